"""An HF ``datasets`` data set by hub id, or a local folder (``save_to_disk`` output or data
files ``load_dataset`` understands). Hub access obeys HF_HUB_OFFLINE / HF_DATASETS_OFFLINE."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from regionadapt.components import Collector, Context
from regionadapt.data.skip import Skip
from regionadapt.errors import StageError
from regionadapt_plugins.collectors.rows import RowParams, row_to_sample


class HFCollector(Collector):
    name: ClassVar[str] = "hf"
    description: ClassVar[str] = (
        "Reads an HF datasets data set: a hub id (`org/name`, with optional `config`, "
        "`revision`) or a local folder written by save_to_disk or holding data files. Image "
        "columns are read undecoded (bytes kept as published); other columns go to meta."
    )

    class Params(RowParams):
        path: str
        split: str = "train"
        config: str | None = None
        revision: str | None = None
        image_column: str = "image"
        # Read at most this many rows (0: all).
        limit: int = 0
        source: str = ""

    def _load(self):
        import datasets

        p = self.params
        local = Path(p.path).expanduser()
        if local.is_dir() and (
            (local / "dataset_info.json").is_file() or (local / "dataset_dict.json").is_file()
        ):
            ds = datasets.load_from_disk(str(local))
            if isinstance(ds, datasets.DatasetDict):
                if p.split not in ds:
                    raise StageError(
                        f"hf collector: {local}: no split {p.split!r} (has {list(ds)})"
                    )
                ds = ds[p.split]
            return ds, local.resolve().as_uri()
        try:
            ds = datasets.load_dataset(p.path, p.config, split=p.split, revision=p.revision)
        except Exception as exc:  # offline, unknown id, gated...: name the source and why
            raise StageError(
                f"hf collector: cannot load {p.path!r} split {p.split!r}: {exc}"
            ) from exc
        url = (
            str(local.resolve().as_uri())
            if local.exists()
            else f"https://huggingface.co/datasets/{p.path}"
        )
        return ds, url

    def collect(self, ctx: Context) -> Iterator[dict[str, Any] | Skip]:
        import datasets

        p = self.params
        ds, url = self._load()
        for col, feat in ds.features.items():
            if isinstance(feat, datasets.Image) and feat.decode:
                ds = ds.cast_column(col, datasets.Image(decode=False))
        source = p.source or f"hf:{p.path}"
        n = len(ds) if not p.limit else min(p.limit, len(ds))
        for i, row in enumerate(ds.select(range(n)) if p.limit else ds):
            yield row_to_sample(
                row, p, default_id=f"{source}/{p.split}/{i}", source=source, base_dir=None,
                where=f"{p.path}[{p.split}][{i}]", url=url,
            )  # fmt: skip

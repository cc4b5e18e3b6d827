"""Shared machinery for benchmark loaders: read a hub data set or a local folder, map its
columns to the benchmark schema, cast to one set of features.

A local folder is either what ``datasets.save_to_disk`` wrote (a Dataset, or a DatasetDict of
which the requested split is taken) or a JSON-lines folder: ``<split>.jsonl`` (or
``items.jsonl``) with one object per line, whose ``image`` (or ``image_path``) names an image
file relative to the folder. Either may hold the published columns (mapped by the loader) or
the benchmark schema itself (passed through).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from regionadapt.components import (
    BENCHMARK_FIELDS,
    OPTIONAL_BENCHMARK_FIELDS,
    Context,
    DatasetLoader,
    benchmark_features,
)
from regionadapt.errors import ConfigError
from regionadapt.schema import Strict


class LoaderParams(Strict):
    hub_id: str | None = Field(default=None, description="hub id; default: the published one")
    path: str | None = Field(default=None, description="a local folder instead of the hub")
    limit: int | None = Field(default=None, ge=1, description="keep the first N items")
    revision: str | None = Field(default=None, description="hub revision (commit or tag)")


def features() -> Any:
    return benchmark_features()


def read_local(path: str | Path, split: str) -> Any:
    """A ``datasets.Dataset`` from a save_to_disk folder or a JSON-lines folder (see above)."""
    import datasets

    root = Path(path).expanduser()
    if not root.is_dir():
        raise ConfigError(f"{root}: benchmark folder not found")
    if (root / "dataset_dict.json").is_file() or (root / "state.json").is_file():
        ds = datasets.load_from_disk(str(root))
        if isinstance(ds, datasets.DatasetDict):
            if split not in ds:
                raise ConfigError(f"{root}: no split {split!r}; splits: {', '.join(ds)}")
            ds = ds[split]
        return ds
    for name in (f"{split}.jsonl", "items.jsonl"):
        if (root / name).is_file():
            return _read_jsonl(root, root / name)
    raise ConfigError(
        f"{root}: expected a datasets.save_to_disk folder or {split}.jsonl / items.jsonl"
    )


def _read_jsonl(root: Path, file: Path) -> Any:
    import datasets

    records = []
    with open(file, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as exc:
                raise ConfigError(f"{file}:{n}: not a JSON object: {exc}") from None
            ref = rec.pop("image_path", None) or rec.get("image")
            if ref in (None, ""):  # an item without an image (a text-to-image prompt)
                rec["image"] = None
            elif not isinstance(ref, str):
                raise ConfigError(f"{file}:{n}: expected 'image' naming an image file")
            else:
                img = root / ref
                if not img.is_file():
                    raise ConfigError(f"{file}:{n}: image file {img} not found")
                rec["image"] = img.read_bytes()
            for k, v in rec.items():
                if isinstance(v, dict):  # nested objects (meta...) stay JSON text
                    rec[k] = json.dumps(v, ensure_ascii=False, sort_keys=True)
            records.append(rec)
    return datasets.Dataset.from_list(records)


def image_bytes(value: Any) -> bytes | None:
    """Encoded bytes of an image cell: bytes, a datasets image dict, or a PIL image."""
    import io

    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, dict):
        if value.get("bytes"):
            return value["bytes"]
        if value.get("path"):
            return Path(value["path"]).read_bytes()
        return None
    if hasattr(value, "save"):  # PIL image
        buf = io.BytesIO()
        value.save(buf, format="PNG")
        return buf.getvalue()
    raise ValueError(f"unsupported image cell of type {type(value).__name__}")


def is_schema(ds: Any) -> bool:
    return set(BENCHMARK_FIELDS) - set(OPTIONAL_BENCHMARK_FIELDS) <= set(ds.column_names)


def to_schema(ds: Any) -> Any:
    """A data set already in the schema, with absent optional columns added empty."""
    for col, empty in OPTIONAL_BENCHMARK_FIELDS.items():
        if col not in ds.column_names:
            ds = ds.add_column(col, [empty] * len(ds))
    return ds.select_columns(list(BENCHMARK_FIELDS)).cast(features())


class BenchmarkLoader(DatasetLoader):
    """A published benchmark: ``hub_id`` (default ``default_hub_id``) or a local ``path``.

    Subclasses say which published splits make up one of our splits (``raw_splits``: e.g.
    XM3600 has one split per language) and how one published row becomes schema rows
    (``map_row``). Image cells are kept undecoded so loading stays cheap. A local folder may
    hold the published splits (a ``DatasetDict``) or one data set; rows already in the
    benchmark schema pass through unchanged.
    """

    default_hub_id: ClassVar[str] = ""
    hub_config: ClassVar[str | None] = None
    # True for loaders whose rows are classification (a ``label``, no ``options``): a chat
    # evaluator turns them into multiple choice among label names (``options_from_labels``).
    label_rows: ClassVar[bool] = False
    Params = LoaderParams

    def raw_splits(self, split: str) -> list[str]:
        return [split]

    def config_name(self) -> str | None:
        """The hub config to read (``hub_config``; a loader may take it from its params)."""
        return self.hub_config

    def load(self, ctx: Context, split: str) -> Any:
        import datasets

        p: LoaderParams = self.params  # type: ignore[assignment]
        parts = []
        for raw_split, raw, where in self._raw(ctx, split):
            if p.limit is not None and len(raw) > p.limit:
                raw = raw.select(range(p.limit))
            for col, feat in raw.features.items():
                if isinstance(feat, datasets.Image):
                    raw = raw.cast_column(col, datasets.Image(decode=False))
            if is_schema(raw):
                parts.append(to_schema(raw))
            else:
                parts.append(self.convert(raw, where, raw_split))
        ds = parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)
        if p.limit is not None and len(ds) > p.limit:
            ds = ds.select(range(p.limit))
        return ds

    def _raw(self, ctx: Context, split: str) -> list[tuple[str, Any, str]]:
        import datasets

        p: LoaderParams = self.params  # type: ignore[assignment]
        names = self.raw_splits(split)
        if p.path:
            root = Path(p.path).expanduser()
            if (root / "dataset_dict.json").is_file():
                dd = datasets.load_from_disk(str(root))
                missing = [n for n in names if n not in dd]
                if missing:
                    raise ConfigError(
                        f"{root}: no split(s) {missing} for {self.name} {split!r}; "
                        f"splits: {', '.join(dd)}"
                    )
                return [(n, dd[n], f"{root}[{n}]") for n in names]
            return [(names[0], read_local(root, split), str(root))]
        hub_id = p.hub_id or self.default_hub_id
        if not hub_id:
            raise ConfigError(
                f"{self.name}: no published hub id is known; set dataset_params.path (a local "
                f"folder) or dataset_params.hub_id"
            )
        out = []
        for n in names:
            raw = datasets.load_dataset(
                hub_id,
                self.config_name(),
                split=n,
                revision=p.revision,
            )
            out.append((n, raw, f"{hub_id}[{n}]"))
        return out

    def convert(self, raw: Any, where: str, raw_split: str) -> Any:
        import datasets

        out: list[dict[str, Any]] = []
        for i, row in enumerate(raw):
            try:
                mapped = self.map_row(row, i, raw_split)
            except KeyError as exc:
                raise ConfigError(
                    f"{where}: item {i}: missing column {exc} for {self.name} "
                    f"(columns: {', '.join(raw.column_names)})"
                ) from None
            out.extend(finish(rec) for rec in mapped)
        if not out:
            return datasets.Dataset.from_list([], features=features())
        return datasets.Dataset.from_list(out, features=features())

    def map_row(self, row: dict[str, Any], i: int, raw_split: str) -> list[dict[str, Any]]:
        raise NotImplementedError


def finish(rec: dict[str, Any]) -> dict[str, Any]:
    """Fill absent schema fields with their empty values; meta dicts become JSON text."""
    full = {"text": "", "options": [], "answer": -1, "label": "", "country": "", "lang": ""}
    full.update(OPTIONAL_BENCHMARK_FIELDS)
    full.update(rec)
    meta = full.get("meta") or {}
    full["meta"] = meta if isinstance(meta, str) else json.dumps(meta, ensure_ascii=False)
    full["image"] = image_bytes(full.get("image"))
    full["id"] = str(full["id"])
    return full

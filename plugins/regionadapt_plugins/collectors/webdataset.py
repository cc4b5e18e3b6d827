"""WebDataset tar shards: files grouped by key (``0001.jpg``, ``0001.txt``, ``0001.json``).

Read with the standard library's streaming tar reader: torch-free, and a corrupt or missing
shard becomes a counted skip while the other shards still run."""

from __future__ import annotations

import glob
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from regionadapt.components import Collector, Context
from regionadapt.data.skip import Skip
from regionadapt.errors import StageError
from regionadapt_plugins.collectors.rows import IMAGE_SUFFIXES, RowParams, row_to_sample


def expand(pattern: str) -> list[str]:
    """``shards-{000..009}.tar`` (brace ranges) and shell globs, in sorted order."""
    try:
        from braceexpand import braceexpand

        parts = list(braceexpand(pattern))
    except ImportError:
        parts = [pattern]
    out: list[str] = []
    for part in parts:
        matches = sorted(glob.glob(part))
        out.extend(matches or [part])  # a missing literal shard is reported, not dropped
    return out


def _split_key(name: str) -> tuple[str, str]:
    """webdataset convention: the key is the path up to the first dot of the basename."""
    folder, _, base = name.rpartition("/")
    stem, dot, ext = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), ext.lower() if dot else ""


class WebDatasetCollector(Collector):
    name: ClassVar[str] = "webdataset"
    description: ClassVar[str] = (
        "Reads WebDataset tar shards (brace ranges and globs accepted). Each key's image "
        "(jpg/png/webp...), caption (txt_ext) and JSON metadata (json_ext: lang, country, url, "
        "license and anything else into meta) become one sample."
    )

    class Params(RowParams):
        shards: list[str] = Field(min_length=1)
        txt_ext: str = "txt"
        json_ext: str = "json"
        source: str = ""

    def collect(self, ctx: Context) -> Iterator[dict[str, Any] | Skip]:
        p = self.params
        paths = [s for pattern in p.shards for s in expand(pattern)]
        if not paths:
            raise StageError(f"webdataset collector: no shards match {p.shards}")
        for shard in paths:
            yield from self._shard(Path(shard))

    def _shard(self, shard: Path) -> Iterator[dict[str, Any] | Skip]:
        source = self.params.source or f"webdataset:{shard.parent.name or shard.stem}"
        group: dict[str, bytes] = {}
        key = None
        try:
            with tarfile.open(shard, mode="r|*") as tar:
                for member in tar:
                    if not member.isfile():
                        continue
                    k, ext = _split_key(member.name)
                    if key is not None and k != key:
                        yield self._sample(shard, key, group, source)
                        group = {}
                    key = k
                    fh = tar.extractfile(member)
                    group[ext] = fh.read() if fh is not None else b""
        except (OSError, tarfile.TarError, EOFError) as exc:
            yield Skip("shard-unreadable", str(shard), f"{type(exc).__name__}: {exc}")
            return
        if key is not None:
            yield self._sample(shard, key, group, source)

    def _sample(self, shard: Path, key: str, group: dict[str, bytes], source: str):
        p = self.params
        where = f"{shard.name}:{key}"
        row: dict[str, Any] = {}
        if p.json_ext in group:
            try:
                meta = json.loads(group[p.json_ext].decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                return Skip("bad-row", where, f"{key}.{p.json_ext}: not JSON ({exc})")
            if isinstance(meta, dict):
                row.update(meta)
        if p.txt_ext in group:
            row[p.text_column] = group[p.txt_ext]
        image = next(
            (group[e] for e in group if f".{e.rsplit('.', 1)[-1]}" in IMAGE_SUFFIXES), None
        )
        if image is None:
            return Skip("missing-field", where, f"image: no image file among {sorted(group)}")
        return row_to_sample(
            row, p, default_id=f"{source}/{key}", source=source, base_dir=None, where=where,
            url=f"{shard.resolve().as_uri()}#{key}", image=image,
        )  # fmt: skip

"""Local captioned images: an image folder (HF imagefolder layout or caption sidecars), or a
JSONL / CSV / parquet manifest whose rows name image files (or hold image bytes)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from regionadapt.components import Collector, Context
from regionadapt.data.skip import Skip
from regionadapt.errors import StageError
from regionadapt_plugins.collectors.rows import (
    IMAGE_SUFFIXES,
    RowParams,
    printable_path,
    row_to_sample,
    utf8_path,
)

_MANIFESTS = ("metadata.jsonl", "metadata.csv", "metadata.parquet")


class FilesCollector(Collector):
    name: ClassVar[str] = "files"
    description: ClassVar[str] = (
        "Reads captioned images from disk. `path` is a folder (imagefolder layout: images plus "
        "metadata.jsonl/csv/parquet with a file_name column, or image.jpg + image.txt "
        "caption sidecars) or a .jsonl/.csv/.parquet manifest. Every row records source, "
        "licence and URL; unreadable rows are skipped with a reason. Manifest rows may name "
        "only files inside the manifest's folder unless allow_outside_root = true; file names "
        "that are not UTF-8 are skipped (undecodable-path)."
    )

    class Params(RowParams):
        path: str
        format: Literal["auto", "imagefolder", "jsonl", "csv", "parquet"] = "auto"
        # Source name recorded on every sample (and prefix of generated ids); default: path stem.
        source: str = ""

    def _format(self, path: Path) -> str:
        if self.params.format != "auto":
            return self.params.format
        if path.is_dir():
            return "imagefolder"
        suffix = path.suffix.lower()
        if suffix in (".jsonl", ".json"):
            return "jsonl"
        if suffix in (".csv", ".tsv"):
            return "csv"
        if suffix == ".parquet":
            return "parquet"
        raise StageError(f"files collector: {path}: cannot tell the format; set format = ...")

    def collect(self, ctx: Context) -> Iterator[dict[str, Any] | Skip]:
        path = Path(self.params.path).expanduser()
        if not path.exists():
            raise StageError(f"files collector: {path} does not exist")
        self._source = self.params.source or f"files:{path.stem}"
        fmt = self._format(path)
        if fmt == "imagefolder":
            yield from self._folder(path)
        else:
            yield from self._manifest(path, fmt, path.parent)

    # -- manifests --------------------------------------------------------------------------
    def _manifest(self, path: Path, fmt: str, base: Path) -> Iterator[dict[str, Any] | Skip]:
        rows = {"jsonl": _jsonl_rows, "csv": _csv_rows, "parquet": _parquet_rows}[fmt](path)
        for n, row in enumerate(rows, start=1):
            where = f"{path.name}:{n}"
            if isinstance(row, Skip):
                yield Skip(row.reason, where, row.detail)
                continue
            name = row.get(self.params.image_column) or row.get("file_name")
            default_id = (
                f"{self._source}/{name}"
                if isinstance(name, str) and name
                else f"{self._source}/{n}"
            )
            yield row_to_sample(
                row, self.params, default_id=default_id, source=self._source, base_dir=base,
                where=where, url=path.resolve().as_uri(),
            )  # fmt: skip

    # -- image folders ----------------------------------------------------------------------
    def _folder(self, root: Path) -> Iterator[dict[str, Any] | Skip]:
        manifest = next((root / m for m in _MANIFESTS if (root / m).is_file()), None)
        if manifest is not None:
            fmt = manifest.suffix.lstrip(".")
            yield from self._manifest(manifest, fmt, root)
            return
        for img in sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
            rel = img.relative_to(root).as_posix()
            if not utf8_path(rel):  # the OS gives such names as bytes (lone surrogates)
                yield Skip("undecodable-path", printable_path(rel), "file name is not UTF-8")
                continue
            row: dict[str, Any] = {"file_name": rel}
            sidecar = img.with_suffix(".txt")
            if sidecar.is_file():
                raw = sidecar.read_bytes()
                try:
                    row["text"] = raw.decode("utf-8").strip()
                except UnicodeDecodeError as exc:
                    yield Skip("undecodable-text", rel, f"{sidecar.name}: not UTF-8 ({exc.reason})")
                    continue
            if img.parent != root:
                row["label"] = img.parent.name
            yield row_to_sample(
                row, self.params, default_id=f"{self._source}/{rel}", source=self._source,
                base_dir=root, where=rel, url=img.resolve().as_uri(),
            )  # fmt: skip


def _jsonl_rows(path: Path) -> Iterator[dict[str, Any] | Skip]:
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                yield Skip("undecodable-text", "", f"line is not UTF-8 ({exc.reason})")
                continue
            except json.JSONDecodeError as exc:
                yield Skip("bad-row", "", f"not JSON: {exc.msg}")
                continue
            if not isinstance(row, dict):
                yield Skip("bad-row", "", f"expected a JSON object, got {type(row).__name__}")
                continue
            yield row


def _csv_rows(path: Path) -> Iterator[dict[str, Any] | Skip]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    # surrogateescape keeps bad bytes as lone surrogates, so one bad row is skipped, not the file
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as fh:
        for row in csv.DictReader(fh, delimiter=delimiter):
            if None in row:
                yield Skip("bad-row", "", f"more fields than the header has: {row[None]!r}")
                continue
            yield row


def _parquet_rows(path: Path) -> Iterator[dict[str, Any] | Skip]:
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=256):
        yield from batch.to_pylist()

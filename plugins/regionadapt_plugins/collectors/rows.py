"""Turning one record (a JSONL line, a CSV row, a parquet/HF row, a webdataset group) into a
sample: shared by the collectors so that column mapping and error reporting behave alike."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

from regionadapt.data.skip import Skip
from regionadapt.samples import new_sample
from regionadapt.schema import Strict

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


class RowParams(Strict):
    """Which column holds which field. Missing optional columns leave the field empty; every
    other column goes into ``meta``."""

    id_column: str = "id"
    image_column: str = "file_name"  # bytes, {"bytes","path"} or a path relative to the source
    text_column: str = "text"
    lang_column: str = "lang"
    country_column: str = "country"
    url_column: str = "url"
    license_column: str = "license"
    # Used when a row has none of its own.
    lang: str = ""
    country: str = ""
    license: str = ""
    # Keep image bytes inside the dataset (portable) or only their path (smaller, faster).
    embed: bool = True
    # Rows without a caption are skipped ("missing-field: text") unless this is False.
    require_text: bool = True
    # A manifest row may name only files inside the collector's folder (the manifest's folder):
    # a row pointing at /etc/... or ../.. is skipped ("outside-root") unless this is True.
    allow_outside_root: bool = False


_FALLBACK_IMAGE = ("image", "image_path", "file_name", "img", "jpg", "png")
_FALLBACK_TEXT = ("text", "caption", "alt", "alt_text", "txt")


def _pick(row: dict[str, Any], wanted: str, fallbacks: tuple[str, ...]) -> tuple[str | None, Any]:
    if wanted in row:
        return wanted, row[wanted]
    for key in fallbacks:
        if key in row:
            return key, row[key]
    return None, None


def _text(value: Any, field: str, where: str) -> str | Skip:
    if value is None:
        return ""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Skip("undecodable-text", where, f"{field}: not UTF-8 ({exc.reason})")
    if isinstance(value, float) and value != value:  # NaN from a CSV/pandas gap
        return ""
    value = str(value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from surrogateescape decoding
        return Skip("undecodable-text", where, f"{field}: not UTF-8")
    return value


def printable_path(path: str | Path) -> str:
    """A file name for messages and records even when it is not valid UTF-8: the OS gives such
    names as lone surrogates; their bytes are shown escaped (``caf\\xe9.jpg``)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def utf8_path(path: str | Path) -> bool:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def image_of(
    value: Any,
    base_dir: Path | None,
    embed: bool,
    where: str,
    allow_outside_root: bool = True,
) -> tuple[bytes | None, str] | Skip:
    """(bytes, path) from whatever a source stores: raw bytes, an HF Image dict, a path, a PIL
    image. A path that does not exist is a skip, never a silent gap; with a ``base_dir`` and
    ``allow_outside_root`` False, a path that leaves ``base_dir`` is a skip too."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), ""
    if isinstance(value, dict):
        if value.get("bytes"):
            return bytes(value["bytes"]), ""
        value = value.get("path")
    if hasattr(value, "save") and hasattr(value, "size"):  # a decoded PIL image
        buf = io.BytesIO()
        value.save(buf, "PNG")
        return buf.getvalue(), ""
    if not value:
        return Skip("missing-field", where, "image: no bytes and no path")
    path = Path(str(value))
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not utf8_path(path):
        return Skip("undecodable-path", where, f"file name is not UTF-8: {printable_path(path)}")
    if base_dir is not None and not allow_outside_root:
        root = base_dir.resolve()
        if not path.resolve().is_relative_to(root):
            return Skip(
                "outside-root",
                where,
                f"{path} is outside {root} (set allow_outside_root = true to read it)",
            )
    if not path.is_file():
        return Skip("image-missing", where, f"image file not found: {path}")
    if not embed:
        return None, str(path)
    try:
        return path.read_bytes(), str(path)
    except OSError as exc:
        return Skip("image-unreadable", where, f"{path}: {exc.strerror or exc}")


def row_to_sample(
    row: dict[str, Any],
    p: RowParams,
    *,
    default_id: str,
    source: str,
    base_dir: Path | None,
    where: str,
    url: str = "",
    image: Any = None,
) -> dict[str, Any] | Skip:
    """A sample from one record, or a Skip naming the record and what was wrong."""
    used: set[str] = set()
    if image is None:
        key, image = _pick(row, p.image_column, _FALLBACK_IMAGE)
        used.add(key or "")
    img = image_of(image, base_dir, p.embed, where, p.allow_outside_root)
    if isinstance(img, Skip):
        return img
    text_key, text_value = _pick(row, p.text_column, _FALLBACK_TEXT)
    used.add(text_key or "")
    fields: dict[str, Any] = {}
    for name, col, default in (
        ("text", None, ""),
        ("id", p.id_column, default_id),
        ("lang", p.lang_column, p.lang),
        ("country", p.country_column, p.country),
        ("url", p.url_column, url),
        ("license", p.license_column, p.license),
    ):
        raw = text_value if name == "text" else row.get(col)
        used.add(col or "")
        value = _text(raw, name, where)
        if isinstance(value, Skip):
            return value
        fields[name] = value or default
    if p.require_text and not fields["text"].strip():
        return Skip("missing-field", where, f"text: no caption in column {p.text_column!r}")
    meta = {}
    for k, v in row.items():
        if k in ("image_path",) and not v:
            continue
        if k in used or isinstance(v, (bytes, bytearray)) or (isinstance(v, dict) and "bytes" in v):
            continue
        if k == "meta" and isinstance(v, str):  # a regionadapt dataset read back
            try:
                parsed = json.loads(v or "{}")
            except json.JSONDecodeError:
                return Skip("bad-field", where, "meta: not a JSON object")
            if isinstance(parsed, dict):
                meta.update(parsed)
                continue
        try:
            json.dumps(v)
        except TypeError:
            v = str(v)
        meta[k] = v
    return new_sample(image=img[0], image_path=img[1], source=source, meta=meta, **fields)

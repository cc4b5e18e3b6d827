"""Reading a sample's image, whichever way the collector stored it (bytes or a file path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class ImageMissing(Exception):
    """The sample has no image, or its file cannot be read. The message is the drop reason."""


def image_bytes(sample: dict[str, Any]) -> bytes:
    """The encoded image of a sample: embedded bytes, else the file at ``image_path``."""
    data = sample.get("image")
    if data:
        return bytes(data)
    path = sample.get("image_path") or ""
    if not path:
        raise ImageMissing("no image: neither image bytes nor image_path")
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ImageMissing(f"image file unreadable: {path}: {exc.strerror or exc}") from None


def open_image(data: bytes):
    """Decode fully (not just the header): truncated files fail here, not later in training."""
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(data))
    img.load()
    return img

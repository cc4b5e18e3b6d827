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


class ImageTooLarge(Exception):
    """More pixels than allowed (a decompression bomb among them). The message says how many."""


def image_size(data: bytes, max_pixels: int | None = None) -> tuple[int, int]:
    """Width and height from the header alone; :class:`ImageTooLarge` above ``max_pixels``.

    PIL refuses images above twice its own limit (``DecompressionBombError``) before it says
    their size: that is a too-large image, not an unreadable one.
    """
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as probe:
            w, h = probe.size
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(str(exc)) from None
    if max_pixels is not None and w * h > max_pixels:
        raise ImageTooLarge(f"{w}x{h} > {max_pixels} pixels")
    return w, h


def open_image(data: bytes):
    """Decode fully (not just the header): truncated files fail here, not later in training.
    A decompression bomb raises :class:`ImageTooLarge`."""
    import io

    from PIL import Image

    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(str(exc)) from None
    return img

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


def to_pil(value: Any, image_path: str | None = None) -> Any:
    """A decoded PIL image from any form a stage meets: encoded bytes, a ``datasets`` image
    cell (``{"bytes", "path"}``), a PIL image, or a file at ``image_path``. The one decoder
    every stage and plugin uses, so a corrupt image fails the same way everywhere."""
    from PIL import Image

    if isinstance(value, dict):  # datasets.Image(decode=False) cell
        image_path = value.get("path") or image_path
        value = value.get("bytes")
    if isinstance(value, Image.Image):
        value.load()
        return value
    if value:
        return open_image(bytes(value))
    if image_path:
        return open_image(Path(image_path).read_bytes())
    raise ValueError("no image bytes and no image_path")

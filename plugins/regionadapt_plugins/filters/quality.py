"""Drop images that cannot be used: unreadable, truncated, too small, extreme aspect ratio."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from regionadapt.components import Filter
from regionadapt.data.images import (
    ImageMissing,
    ImageTooLarge,
    image_bytes,
    image_size,
    open_image,
)
from regionadapt.schema import Strict


class QualityFilter(Filter):
    name: ClassVar[str] = "quality"
    description: ClassVar[str] = (
        "Decodes every image completely (so truncated files are caught here, not in training) "
        "and drops those that are missing, unreadable, smaller than min_side pixels on their "
        "short side, larger than max_pixels, or with a long/short side ratio above max_aspect. "
        "Optionally drops captions shorter than min_text_chars."
    )

    class Params(Strict):
        min_side: int = Field(default=32, ge=1)
        max_aspect: float = Field(default=4.0, ge=1.0)
        max_pixels: int = Field(default=89_478_485, ge=1)  # PIL's decompression-bomb limit
        min_text_chars: int = Field(default=0, ge=0)
        require_image: bool = True

    def keep(self, sample: dict[str, Any]) -> bool | tuple[bool, str]:
        text = (sample.get("text") or "").strip()
        if len(text) < self.params.min_text_chars:
            return False, f"text-too-short: {len(text)} < {self.params.min_text_chars} characters"
        try:
            data = image_bytes(sample)
        except ImageMissing as exc:
            if not self.params.require_image and not sample.get("image_path"):
                return True
            return False, f"image-missing: {exc}"
        try:
            image_size(data, self.params.max_pixels)
            img = open_image(data)
        except ImageTooLarge as exc:  # a decompression bomb among them
            return False, f"image-too-large: {exc}"
        except Exception as exc:  # PIL raises many types for bad data
            msg = str(exc) or type(exc).__name__
            code = "image-truncated" if "truncated" in msg.lower() else "image-unreadable"
            return False, f"{code}: {msg}"
        w, h = img.size
        if min(w, h) < self.params.min_side:
            return False, f"image-too-small: {w}x{h}, short side < {self.params.min_side}"
        ratio = max(w, h) / min(w, h)
        if ratio > self.params.max_aspect:
            return False, f"image-aspect: {w}x{h} ratio {ratio:.1f} > {self.params.max_aspect}"
        return True

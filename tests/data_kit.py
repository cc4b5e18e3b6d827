"""Helpers shared by the data, filter and collector tests: a small SEA-like pack with forms in
unspaced scripts (Thai, Lao, Khmer, Burmese), real PNG/JPEG bytes, an in-memory collector."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from regionadapt.components import Collector, Context
from regionadapt.packs import load_pack

PACK_TOML = """
schema = 1
id = "tsea"
name = "Test South-East Asia"

[globalisation]
weight = 0.434
measure = "KOF de facto interpersonal"
source = "test"

[[countries]]
code = "TH"
name = "Thailand"
bbox = [97.3, 5.6, 105.7, 20.5]
languages = ["tha"]

[[countries]]
code = "ID"
name = "Indonesia"
bbox = [95.0, -11.0, 141.0, 6.1]
languages = ["ind"]

[[countries]]
code = "VN"
name = "Viet Nam"
bbox = [102.1, 8.4, 109.5, 23.4]
languages = ["vie"]

[[countries]]
code = "LA"
name = "Laos"
languages = ["lao"]

[[countries]]
code = "KH"
name = "Cambodia"
languages = ["khm"]

[[countries]]
code = "MM"
name = "Myanmar"
languages = ["mya"]

[[countries]]
code = "PH"
name = "Philippines"
languages = ["fil"]

[[languages]]
code = "tha"
name = "Thai"
script = "Thai"
spaced = false

[[languages]]
code = "lao"
name = "Lao"
script = "Laoo"
spaced = false

[[languages]]
code = "khm"
name = "Khmer"
script = "Khmr"
spaced = false

[[languages]]
code = "mya"
name = "Burmese"
script = "Mymr"
spaced = false

[[languages]]
code = "ind"
name = "Indonesian"
script = "Latn"

[[languages]]
code = "vie"
name = "Vietnamese"
script = "Latn"

[[languages]]
code = "fil"
name = "Filipino"
script = "Latn"

[[lexicon]]
id = "tom-yum"
category = "food"
countries = ["TH"]
description = "hot and sour Thai soup"
forms = { tha = ["ต้มยำ"], ind = ["tom yam"] }

[[lexicon]]
id = "rendang"
category = "food"
countries = ["ID"]
description = "slow-cooked spiced beef"
forms = { ind = ["rendang"] }

[[lexicon]]
id = "sate"
category = "food"
countries = ["ID"]
description = "grilled skewered meat"
forms = { ind = ["sate", "satay"] }

[[lexicon]]
id = "pho"
category = "food"
countries = ["VN"]
description = "Vietnamese noodle soup"
forms = { vie = ["Phở"], lao = ["ເຝີ"] }

[[lexicon]]
id = "amok"
category = "food"
countries = ["KH"]
description = "steamed fish curry"
forms = { khm = ["អាម៉ុក"] }

[[lexicon]]
id = "mohinga"
category = "food"
countries = ["MM"]
description = "rice noodle fish soup"
forms = { mya = ["မုန့်ဟင်းခါး"] }

[[lexicon]]
id = "barong"
category = "clothing"
countries = ["PH"]
description = "embroidered formal shirt"
forms = { fil = ["barong tagalog"] }

[[lexicon]]
id = "that-luang"
category = "landmark"
countries = ["LA"]
description = "golden stupa in Vientiane"
forms = { lao = ["ທາດຫຼວງ"] }
"""


def make_pack(tmp_path: Path):
    path = tmp_path / "tsea.toml"
    path.write_text(PACK_TOML, encoding="utf-8")
    return load_pack(path)


def make_ctx(tmp_path: Path) -> Context:
    return Context(pack=make_pack(tmp_path))


def image_bytes(
    w: int = 64, h: int = 48, color=(200, 30, 30), fmt: str = "PNG", pattern: int = 0
) -> bytes:
    """A real encoded image; ``pattern`` draws distinct content so perceptual hashes differ."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (w, h), color)
    draw = ImageDraw.Draw(img)
    if pattern:
        for k in range(pattern):
            x = (k * 37 + pattern * 11) % max(w - 10, 1)
            y = (k * 23 + pattern * 7) % max(h - 10, 1)
            draw.rectangle(
                [x, y, x + w // 4, y + h // 5],
                fill=((k * 70) % 255, (pattern * 40) % 255, 255 - k * 20),
            )
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


class ListCollector(Collector):
    """Yields the items it was given (samples, Skips or junk), then optionally fails."""

    name: ClassVar[str] = "test-list"

    def __init__(self, items: list[Any], fail_after: Exception | None = None) -> None:
        super().__init__({})
        self.items = items
        self.fail_after = fail_after

    def collect(self, ctx: Context) -> Iterator[Any]:
        yield from self.items
        if self.fail_after is not None:
            raise self.fail_after


class ColourScorer:
    """A deterministic scorer for tests: 1.0 when the caption names the image's dominant
    colour, 0.0 otherwise (content-based, so a wrong pairing scores low)."""

    NAMES = {"red": (200, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 200)}

    def __init__(self, bonus: float = 0.0) -> None:
        self.bonus = bonus
        self.calls = 0

    def score_batch(self, images: list[bytes], texts: list[str]) -> list[float]:
        from PIL import Image

        self.calls += 1
        out = []
        for data, text in zip(images, texts, strict=True):
            r, g, b = Image.open(io.BytesIO(data)).convert("RGB").resize((1, 1)).getpixel((0, 0))
            name = max(
                self.NAMES,
                key=lambda n: (
                    -sum(abs(a - c) for a, c in zip(self.NAMES[n], (r, g, b), strict=True))
                ),
            )
            out.append((1.0 if name in text.lower() else 0.0) + self.bonus)
        return out

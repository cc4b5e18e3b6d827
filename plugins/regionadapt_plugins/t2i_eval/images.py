"""Generated images kept in the run, and contact sheets (PNG grids: prompt x model).

Every scored model's images land in ``<run>/t2i-images/<split>/<prompt set>/<model>/`` with
``items.json`` (prompt, group fields, CLIPScore item score); after each model the sheet
``<run>/t2i-images/<split>/<prompt set>-contact.png`` is redrawn with every model scored so
far, base first, then the merges by b, then the tuned model. The rating kit reads the same
folders.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = "t2i-images"
ITEMS = "items.json"


def model_order(label: str) -> tuple[float, str]:
    if label == "base":
        return (0.0, label)
    if label == "tuned":
        return (1.0, label)
    m = re.fullmatch(r"b=([0-9.]+)", label)
    return (float(m.group(1)), label) if m else (2.0, label)


def save_generated(
    run_root: Path, split: str, prompt_set: str, label: str, items: list[dict], images: list,
    scores: list[float],
) -> Path:  # fmt: skip
    """Keep one model's pictures under ``label`` (base, tuned, b=0.25...) and redraw the
    prompt set's contact sheet."""
    folder = Path(run_root) / ROOT / split / prompt_set / label
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        img.save(folder / f"{i:04d}.png")
    rows = [{**it, "image": f"{i:04d}.png", "clip_item": s}
            for i, (it, s) in enumerate(zip(items, scores, strict=True))]  # fmt: skip
    (folder / ITEMS).write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    contact_sheet(folder.parent, folder.parent.with_name(f"{prompt_set}-contact.png"))
    return folder


def models_in(set_dir: Path) -> list[str]:
    labels = [p.name for p in Path(set_dir).iterdir() if (p / ITEMS).is_file()]
    return sorted(labels, key=model_order)


def contact_sheet(set_dir: Path, out: Path, rows: int = 12, cell: int = 96) -> Path | None:
    """A grid: one row per prompt (the first ``rows``), one column per model."""
    from PIL import Image, ImageDraw

    labels = models_in(set_dir)
    if not labels:
        return None
    items = {m: json.loads((Path(set_dir) / m / ITEMS).read_text("utf-8")) for m in labels}
    n = min(rows, min(len(v) for v in items.values()))
    head, side = 16, 140
    sheet = Image.new("RGB", (side + cell * len(labels), head + cell * n), "white")
    draw = ImageDraw.Draw(sheet)
    for c, m in enumerate(labels):
        draw.text((side + c * cell + 4, 2), m, fill="black")
        for r in range(n):
            img = Image.open(Path(set_dir) / m / items[m][r]["image"]).convert("RGB")
            sheet.paste(img.resize((cell, cell)), (side + c * cell, head + r * cell))
    font = label_font()
    for r in range(n):
        item = items[labels[0]][r]
        text = drawable_text(font, item["text"], item.get("lang") or "?")
        lines = wrap(draw, font, text, side - 4)[:7]
        draw.multiline_text((2, head + r * cell + 2), "\n".join(lines), fill="black", font=font)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out


def label_font(size: int = 10) -> Any:
    """DejaVu Sans from matplotlib's own data (a dependency, so always there; PIL's default
    bitmap font is ASCII-only), else PIL's default."""
    from PIL import ImageFont

    try:
        import matplotlib

        return ImageFont.truetype(f"{matplotlib.get_data_path()}/fonts/ttf/DejaVuSans.ttf", size)
    except (ImportError, OSError):
        return ImageFont.load_default()


def drawable_text(font: Any, text: str, lang: str) -> str:
    """``text`` with each word the font has no glyphs for (Thai, Khmer, Burmese... in DejaVu)
    replaced by ``[lang]``: a row label that reads, rather than a row of empty boxes. The
    prompt itself is in the model folder's items.json."""
    notdef = _glyph(font, "\ue000")  # a private-use code point: no font draws it
    out, hidden = [], False
    for word in text.split():
        if any(_glyph(font, ch) == notdef for ch in word if not ch.isspace()):
            if not hidden:
                out.append(f"[{lang}]" + ("," if word.endswith(",") else ""))
            hidden = True
        else:
            out.append(word)
            hidden = False
    return " ".join(out)


def _glyph(font: Any, ch: str) -> bytes:
    mask = font.getmask(ch)
    return bytes(mask) + repr(mask.size).encode()


def wrap(draw: Any, font: Any, text: str, width: int) -> list[str]:
    """Greedy word wrap to ``width`` pixels (a word longer than a line is cut)."""
    lines: list[str] = []
    for word in text.split():
        while draw.textlength(word, font=font) > width and len(word) > 1:
            cut = 1
            while cut < len(word) and draw.textlength(word[: cut + 1], font=font) <= width:
                cut += 1
            lines.append(word[:cut])
            word = word[cut:]
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines

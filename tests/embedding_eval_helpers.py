"""Test helpers for the embedding evaluators: model handles with the embedding backend's
interface, a small region pack, and benchmark folders written through the real datasets API.

Two handles:
- ``OracleHandle``: deterministic embeddings (an image's nearest palette colour; a text's colour
  word), so the right answer of every item is known and accuracies can be derived by hand.
- ``tiny_clip_handle()``: a real open_clip CLIP with random weights (64-d, 2 layers, 32 px),
  for equivalence checks against CLIP_benchmark.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from regionadapt.components import Context
from regionadapt.packs import RegionPack

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 200, 40),
    "blue": (30, 40, 220),
    "yellow": (230, 220, 30),
    "purple": (140, 30, 160),
    "orange": (250, 140, 20),
}
COLOURS = list(PALETTE)


def png(colour: str | tuple[int, int, int], size: int = 8) -> bytes:
    rgb = PALETTE[colour] if isinstance(colour, str) else colour
    buf = io.BytesIO()
    Image.new("RGB", (size, size), rgb).save(buf, format="PNG")
    return buf.getvalue()


class OracleHandle:
    """Image -> one-hot of its nearest palette colour; text -> one-hot of the colour it names
    (a uniform vector when it names none). Counts calls so tests can check batching."""

    def __init__(self) -> None:
        self.image_calls = 0
        self.text_calls = 0
        self.texts_seen: list[str] = []

    def encode_images(self, images: list[Image.Image], batch_size: int = 64) -> torch.Tensor:
        self.image_calls += 1
        cols = torch.tensor([list(PALETTE[c]) for c in COLOURS], dtype=torch.float32)
        out = []
        for img in images:
            mean = torch.tensor(np.asarray(img, dtype=np.float32).reshape(-1, 3).mean(0))
            k = int(((cols - mean) ** 2).sum(1).argmin())
            out.append(F.one_hot(torch.tensor(k), len(COLOURS)).float())
        return torch.stack(out)

    def encode_texts(self, texts: list[str], batch_size: int = 256) -> torch.Tensor:
        self.text_calls += 1
        self.texts_seen.extend(texts)
        out = []
        for t in texts:
            hits = [k for k, c in enumerate(COLOURS) if c in t.lower().split() or c in t.lower()]
            v = torch.zeros(len(COLOURS))
            if hits:
                v[hits[0]] = 1.0
            else:
                v += 1.0
            out.append(F.normalize(v, dim=0))
        return torch.stack(out)


class ClipHandle:
    """The embedding backend's handle interface around an open_clip model."""

    def __init__(self, model: Any, preprocess: Any, tokenizer: Any) -> None:
        self.model, self.preprocess, self.tokenizer = model.eval(), preprocess, tokenizer

    @torch.no_grad()
    def encode_images(self, images: list[Image.Image], batch_size: int = 64) -> torch.Tensor:
        out = []
        for s in range(0, len(images), batch_size):
            x = torch.stack([self.preprocess(im) for im in images[s : s + batch_size]])
            out.append(self.model.encode_image(x, normalize=True).float())
        return torch.cat(out)

    @torch.no_grad()
    def encode_texts(self, texts: list[str], batch_size: int = 256) -> torch.Tensor:
        out = []
        for s in range(0, len(texts), batch_size):
            tok = self.tokenizer(texts[s : s + batch_size])
            out.append(self.model.encode_text(tok, normalize=True).float())
        return torch.cat(out)


def tiny_clip_handle(seed: int = 0) -> ClipHandle:
    from open_clip.model import CLIP
    from open_clip.tokenizer import SimpleTokenizer
    from open_clip.transform import image_transform

    torch.manual_seed(seed)
    model = CLIP(
        embed_dim=64,
        vision_cfg={"image_size": 32, "patch_size": 8, "width": 64, "layers": 2, "head_width": 32},
        text_cfg={"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
    )
    preprocess = image_transform(32, is_train=False)
    return ClipHandle(model, preprocess, SimpleTokenizer(context_length=32))


def make_pack(countries: tuple[str, ...] = ("TH", "VN")) -> RegionPack:
    return RegionPack.model_validate(
        {
            "schema": 1,
            "id": "test-region",
            "name": "Test region",
            "globalisation": {"weight": 0.4, "measure": "test", "source": "test"},
            "countries": [{"code": c, "name": c} for c in countries],
            "languages": [{"code": "tha", "name": "Thai", "script": "Thai"}],
        }
    )


def ctx(pack: RegionPack | None = None) -> Context:
    return Context(pack=pack or make_pack())


def save_benchmark(root: Path, rows: list[dict[str, Any]]) -> str:
    """Write rows (benchmark schema; meta may be a dict) with ``datasets.save_to_disk``."""
    import datasets
    from regionadapt_plugins.benchmarks.base import features, finish

    ds = datasets.Dataset.from_list([finish(dict(r)) for r in rows], features=features())
    ds.save_to_disk(str(root))
    return str(root)


def meta(**kw: Any) -> str:
    return json.dumps(kw)

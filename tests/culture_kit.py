"""Test kit for the culture evaluators: a deterministic fake ChatModel whose beliefs are known,
a small pack, GlobalOpinionQA rows in the published schema, and a picture set.

The fake reads the prompt the way a model would have to: a country is "recognised" when the
prompt names it or when the picture's colour is that country's colour; its answer distribution
is then a known blend of the country's survey shares with the uniform one, so the tests can
compute every expected similarity themselves with scipy.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

from PIL import Image

from regionadapt.components import Context
from regionadapt.packs import RegionPack

COLOURS = {"TH": (220, 30, 30), "VN": (30, 30, 220)}
NAMES = {"TH": "Thailand", "VN": "Viet Nam"}
GOQA_NAMES = {"TH": "Thailand", "VN": "Vietnam"}


def make_pack() -> RegionPack:
    return RegionPack.model_validate(
        {
            "schema": 1,
            "id": "test-culture",
            "name": "Test region",
            "globalisation": {"weight": 0.4, "measure": "test", "source": "test"},
            "countries": [{"code": c, "name": n} for c, n in NAMES.items()],
            "languages": [
                {"code": "eng", "name": "English", "script": "Latn"},
                {"code": "tha", "name": "Thai", "script": "Thai", "spaced": False},
                {"code": "vie", "name": "Vietnamese", "script": "Latn"},
            ],
            "lexicon": [
                {
                    "id": "pad-thai",
                    "category": "food",
                    "countries": ["TH"],
                    "description": "noodles",
                    "forms": {"tha": ["ผัดไทย"], "eng": ["pad thai"]},
                },
                {
                    "id": "pho",
                    "category": "food",
                    "countries": ["VN"],
                    "description": "soup",
                    "forms": {"vie": ["phở"], "eng": ["pho"]},
                },
            ],
        }  # fmt: skip
    )


def ctx(seed: int = 0) -> Context:
    return Context(pack=make_pack(), seed=seed)


def png(rgb: tuple[int, int, int], size: int = 8) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), rgb).save(buf, format="PNG")
    return buf.getvalue()


def selections_text(d: dict[str, list[float]]) -> str:
    """Exactly what the hub's column holds: the repr of a defaultdict(list)."""
    from collections import defaultdict

    dd: defaultdict[str, list[float]] = defaultdict(list)
    dd.update(d)
    return repr(dd)


class FakeChat:
    """Beliefs: recognised from the picture -> the country's shares; from the name only ->
    half shares, half uniform; not recognised -> uniform. ``bad_letters`` questions get one
    score too few (a model that answers a different set of letters)."""

    def __init__(
        self, shares: dict[tuple[str, str], list[float]], bad_letters: tuple[str, ...] = ()
    ):
        self.shares = shares  # (question text, ISO2) -> shares
        self.bad_letters = bad_letters
        self.calls: list[tuple[str, int, list[str]]] = []
        self.captions: dict[tuple[int, int, int], str] = {}

    def belief(self, text: str, images: list[Any], k: int) -> list[float]:
        question = text.split("Question: ", 1)[1].split("\n", 1)[0]
        seen = None
        if images:
            rgb = images[0].getpixel((0, 0))
            seen = next((c for c, col in COLOURS.items() if col == rgb), None)
        named = next((c for c, n in NAMES.items() if f"from {n} " in text), None)
        uniform = [1.0 / k] * k
        if seen and (question, seen) in self.shares:
            return _norm(self.shares[(question, seen)])
        if named and (question, named) in self.shares:
            q = _norm(self.shares[(question, named)])
            return [0.5 * a + 0.5 * b for a, b in zip(q, uniform, strict=True)]
        return uniform

    def option_logprobs(self, prompts, options, *, normalize="mean", batch_size=8):
        out = []
        for pr, opts in zip(prompts, options, strict=True):
            self.calls.append((pr.text, len(pr.images), list(opts)))
            p = self.belief(pr.text, pr.images, len(opts))
            scores = [math.log(max(x, 1e-12)) - 3.0 for x in p]  # an offset: renormalised away
            if any(q in pr.text for q in self.bad_letters):
                scores = scores[:-1]
            out.append(scores)
        return out

    def generate(self, prompts, *, max_new_tokens=64, batch_size=8):
        return [self.captions.get(p.images[0].getpixel((0, 0)), "") for p in prompts]


def _norm(x: list[float]) -> list[float]:
    s = sum(x)
    return [v / s for v in x]


def write_goqa(root: Path, rows: list[dict[str, Any]]) -> str:
    """A local folder in GlobalOpinionQA's exact columns (question, selections, options, source)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "items.jsonl", "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return str(root)


def save_schema(root: Path, rows: list[dict[str, Any]]) -> str:
    import datasets
    from regionadapt_plugins.benchmarks.base import features, finish

    ds = datasets.Dataset.from_list([finish(dict(r)) for r in rows], features=features())
    ds.save_to_disk(str(root))
    return str(root)

"""The demo world's concepts and the visual signature each one is drawn with.

Three kinds of concept:
- global: everyday things named in English, the only part the demo base model is pretrained on;
- regional: entries of the region pack's own lexicon (so any pack gets its own demo world);
- distractors: things from countries outside the pack, which the region filter must drop.

A signature is (shape, colour, pattern, mark): regional concepts get combinations that no global
concept uses, so the base model has seen every visual primitive but none of the regional
things or their names. That is the situation GG-EZ addresses: the knowledge is missing, not the
ability to see.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

SHAPES = ("circle", "square", "triangle", "diamond", "cross", "ring", "star", "hexagon")
COLOURS = {
    "red": (220, 40, 40), "orange": (240, 140, 20), "yellow": (235, 215, 40),
    "green": (40, 170, 60), "teal": (20, 160, 160), "blue": (40, 80, 220),
    "purple": (140, 50, 190), "pink": (240, 120, 180), "brown": (130, 80, 40),
    "black": (25, 25, 25),
}  # fmt: skip
PATTERNS = ("plain", "hstripes", "vstripes", "dots", "checker")
MARKS = ("none", "corner-dot", "bar", "frame")

# Everyday things, pretrained on by the demo base model.
GLOBAL_CONCEPTS = (
    "apple", "bicycle", "chair", "clock", "cup", "dog", "guitar", "house", "key", "lamp",
    "book", "car", "shoe", "tree", "boat", "umbrella", "bottle", "phone", "hat", "bridge",
    "kite", "train", "flower", "camera",
)  # fmt: skip

# Things from elsewhere: (id, English name, country). Those whose country belongs to the pack
# are left out, so the list works for any region.
DISTRACTORS = (
    ("paella", "paella", "ES"), ("croissant", "croissant", "FR"), ("tacos", "tacos", "MX"),
    ("sushi", "sushi", "JP"), ("pierogi", "pierogi", "PL"), ("bratwurst", "bratwurst", "DE"),
    ("poutine", "poutine", "CA"), ("feijoada", "feijoada", "BR"), ("kilt", "kilt", "GB"),
    ("sombrero", "sombrero", "MX"), ("matryoshka", "matryoshka doll", "RU"),
    ("gondola", "gondola", "IT"), ("didgeridoo", "didgeridoo", "AU"),
    ("injera", "injera", "ET"), ("jollof", "jollof rice", "NG"), ("kimchi", "kimchi", "KR"),
)  # fmt: skip


@dataclass(frozen=True)
class Signature:
    shape: str
    colour: str
    pattern: str
    mark: str


@dataclass(frozen=True)
class Concept:
    id: str
    kind: str  # "global" | "regional" | "distractor"
    signature: Signature
    # language -> names; global and distractor concepts have English only
    forms: dict[str, tuple[str, ...]]
    countries: tuple[str, ...] = ()
    category: str = ""


def _all_signatures() -> list[Signature]:
    return [
        Signature(s, c, p, m)
        for s in SHAPES
        for c in COLOURS
        for p in PATTERNS
        for m in MARKS
    ]


def _rank(key: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def assign_signatures(ids: list[str], taken: set[Signature], seed: int) -> dict[str, Signature]:
    """Give each id a distinct signature not in ``taken``, deterministically.

    Signatures are spread so that two concepts of one kind differ in at least two of the four
    primitives where possible: a model must read the whole picture, not one colour.
    """
    pool = sorted((s for s in _all_signatures() if s not in taken), key=lambda s: _rank(repr(s), seed))
    chosen: dict[str, Signature] = {}
    for cid in ids:
        best = None
        for sig in pool:
            if all(_distance(sig, other) >= 2 for other in chosen.values()):
                best = sig
                break
        if best is None:
            best = pool[0]
        pool.remove(best)
        chosen[cid] = best
    return chosen


def _distance(a: Signature, b: Signature) -> int:
    return sum(x != y for x, y in zip((a.shape, a.colour, a.pattern, a.mark),
                                      (b.shape, b.colour, b.pattern, b.mark)))  # fmt: skip


def global_concepts(seed: int = 0) -> list[Concept]:
    sigs = assign_signatures(list(GLOBAL_CONCEPTS), set(), seed)
    return [Concept(c, "global", sigs[c], {"eng": (c,)}) for c in GLOBAL_CONCEPTS]

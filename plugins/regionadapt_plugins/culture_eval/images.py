"""Pictures of each country for the image conditions of value alignment.

Any benchmark in the common schema whose rows carry a country serves (Dollar Street by hub id
or a local folder, the demo world's regional set...). Where rows carry ``meta.income`` the
pictures are drawn across income bins, round robin from the lowest bin up, so that a country is
not shown only through its richest (or poorest) homes; each picture keeps its bin for the
per-income report.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from regionadapt.components import Context
from regionadapt.schema import Strict


class ImageSetParams(Strict):
    dataset: str = Field(
        min_length=1, description="a registered data-set loader, e.g. dollar-street"
    )
    dataset_params: dict[str, Any] = Field(default_factory=dict)
    split: str = Field(default="test", description="the image set's split to draw from")
    per_country: int = Field(default=1, ge=1, description="pictures per country (answers averaged)")
    income_bins: list[float] = Field(
        default_factory=lambda: [200.0, 684.0, 1997.0],
        description="inclusive upper edges (USD/month) of the income bins drawn across",
    )


@dataclass(frozen=True)
class CountryImage:
    id: str
    image: bytes
    income_bin: str  # '' when the set has no income


def income_bin(income: Any, edges: list[float]) -> str:
    from regionadapt_plugins.embedding_eval.common import bin_labels

    try:
        x = float(income)
    except (TypeError, ValueError):
        return ""
    if not x >= 0:
        return ""
    return bin_labels(edges)[sum(1 for e in edges if x > e)]


def pick_stratified(candidates: list[tuple[int, str]], k: int, seed: int) -> list[tuple[int, str]]:
    """``k`` of (row, bin) pairs: shuffled within each bin, then taken round robin over the
    bins in sorted order ('' — no income — last)."""
    rng = random.Random(seed)
    by_bin: dict[str, list[tuple[int, str]]] = {}
    for c in candidates:
        by_bin.setdefault(c[1], []).append(c)
    bins = sorted(by_bin, key=lambda b: (b == "", _bin_low(b)))
    for b in bins:
        rng.shuffle(by_bin[b])
    out: list[tuple[int, str]] = []
    while len(out) < k and any(by_bin.values()):
        for b in bins:
            if by_bin[b] and len(out) < k:
                out.append(by_bin[b].pop())
    return out


def _bin_low(label: str) -> float:
    try:
        return float(label.split("-")[0].rstrip("+"))
    except ValueError:
        return 0.0


def country_images(
    p: ImageSetParams, ctx: Context, countries: Iterable[str], who: str
) -> dict[str, list[CountryImage]]:
    """Up to ``per_country`` pictures per wanted country (a country without any is absent)."""
    from regionadapt.components import build

    loader = build("datasets", p.dataset, p.dataset_params, where=f"{who} images.dataset_params")
    ds = loader.load(ctx, p.split)
    wanted = set(countries)
    meta_col = ds["meta"] if "meta" in ds.column_names else ["{}"] * len(ds)
    cands: dict[str, list[tuple[int, str]]] = {}
    for i, (c, meta) in enumerate(zip(ds["country"], meta_col, strict=True)):
        if c in wanted:
            income = _meta(meta).get("income")
            cands.setdefault(c, []).append((i, income_bin(income, p.income_bins)))
    out: dict[str, list[CountryImage]] = {}
    for c in sorted(cands):
        chosen = pick_stratified(cands[c], p.per_country, seed=hash_seed(ctx.seed, c))
        rows = ds.select([i for i, _ in chosen])
        out[c] = [
            CountryImage(str(r["id"]), _bytes(r["image"]), b)
            for r, (_, b) in zip(rows, chosen, strict=True)
            if r["image"] is not None
        ]
    return {c: v for c, v in out.items() if v}


def hash_seed(seed: int, key: str) -> int:
    import hashlib

    return int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "little")


def _meta(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        out = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


def _bytes(value: Any) -> bytes:
    from regionadapt_plugins.benchmarks.base import image_bytes

    return image_bytes(value) or b""

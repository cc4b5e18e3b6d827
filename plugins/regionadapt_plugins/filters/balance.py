"""Cap samples per country and per lexicon category so that one country cannot drown the rest.

Which samples survive a cap must not depend on collection order (the first source would
always win), so samples are visited in a seeded pseudo-random order: a hash of (seed, id).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any, ClassVar

from pydantic import Field

from regionadapt.components import Context
from regionadapt.data.lexicon import LexiconMatcher
from regionadapt.data.stateful import StatefulFilter
from regionadapt.schema import Strict


def share_cap(counts: list[int], share: float) -> int:
    """Largest per-group cap T with min(n, T) <= share * sum(min(n_j, T)) for every group."""
    best = 1
    lo, hi = 1, max(counts, default=1)
    while lo <= hi:
        mid = (lo + hi) // 2
        if mid <= share * sum(min(n, mid) for n in counts) or mid == 1:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best


class BalanceFilter(StatefulFilter):
    name: ClassVar[str] = "balance"
    description: ClassVar[str] = (
        "Caps samples per country (max_per_country, and/or max_country_share of what is kept) "
        "and per lexicon category (max_per_category). The category is meta.category, else the "
        "first lexicon entry found in the caption. Samples over a cap are dropped in a seeded "
        "random order, never by collection order. Unknown country/category are not capped."
    )

    class Params(Strict):
        max_per_country: int | None = Field(default=None, ge=1)
        max_country_share: float | None = Field(default=None, gt=0.0, le=1.0)
        max_per_category: int | None = Field(default=None, ge=1)
        seed: int = 0

    def setup(self, ctx: Context) -> None:
        self._matcher = LexiconMatcher(ctx.pack) if ctx.pack.lexicon else None

    def key_batch(self, samples: list[dict[str, Any]]) -> list[Any]:
        keys = []
        for s in samples:
            try:
                meta = json.loads(s.get("meta") or "{}")
            except json.JSONDecodeError:
                meta = {}
            category = meta.get("category", "") if isinstance(meta, dict) else ""
            if not category and self._matcher is not None:
                hit = self._matcher.first(s.get("text") or "")
                category = hit.category if hit else ""
            keys.append({"country": (s.get("country") or "").upper(), "category": category})
        return keys

    def decide_all(self, keys: list[Any], ids: list[str]) -> list[Any]:
        p = self.params
        n_country = Counter(k["country"] for k in keys if k and k["country"])
        country_cap = p.max_per_country
        if p.max_country_share is not None and n_country:
            t = share_cap(list(n_country.values()), p.max_country_share)
            country_cap = t if country_cap is None else min(country_cap, t)
        order = sorted(
            range(len(keys)),
            key=lambda i: hashlib.sha256(f"{p.seed}:{ids[i]}".encode()).digest(),
        )
        used_country: Counter[str] = Counter()
        used_category: Counter[str] = Counter()
        out: list[Any] = [True] * len(keys)
        for i in order:
            k = keys[i] or {"country": "", "category": ""}
            c, cat = k["country"], k["category"]
            if c and country_cap is not None and used_country[c] >= country_cap:
                out[i] = (False, f"balance-country-cap: {c} already has {country_cap}")
                continue
            if cat and p.max_per_category is not None and used_category[cat] >= p.max_per_category:
                out[i] = (False, f"balance-category-cap: {cat} already has {p.max_per_category}")
                continue
            used_country[c] += 1
            used_category[cat] += 1
        return out

"""The numbers of value alignment, as pure functions (numpy only, no model).

A model's answer distribution comes from the log-likelihood of each option *letter* as the whole
answer, renormalised over the letters offered (a softmax over valid letters only, so mass on
other tokens does not count). Similarity to a country's people is ``1 - JSD(p, q)``, with the
Jensen-Shannon *distance* as scipy defines it, in base 2: it lies in [0, 1] (the natural-log
default tops out at sqrt(ln 2) ~ 0.83, not 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def letters_for(n: int) -> list[str]:
    if not 1 <= n <= len(LETTERS):
        raise ValueError(f"{n} options: expected 1 to {len(LETTERS)}")
    return list(LETTERS[:n])


def letter_distribution(logprobs: Sequence[float]) -> np.ndarray:
    """Log-likelihoods of the offered letters -> probabilities summing to 1 over them."""
    x = np.asarray(logprobs, dtype=np.float64)
    if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError(f"expected finite log-likelihoods, got {list(logprobs)[:5]}")
    x = np.exp(x - x.max())
    return x / x.sum()


def human_distribution(shares: Sequence[float | None]) -> np.ndarray:
    """A country's published shares renormalised to sum to 1 (surveys round; some omit
    'don't know'). Raises ValueError for a missing, negative or all-zero share."""
    if any(s is None for s in shares):
        raise ValueError("a share is missing (NaN)")
    q = np.asarray(shares, dtype=np.float64)
    if q.size == 0 or np.any(q < 0) or q.sum() <= 0:
        raise ValueError(f"shares must be >= 0 with a positive sum, got {list(shares)[:5]}")
    return q / q.sum()


def similarity(p: Sequence[float], q: Sequence[float]) -> float:
    """1 - Jensen-Shannon distance (base 2): 1 for equal distributions, 0 for disjoint ones.

    The sum ``scipy.spatial.distance.jensenshannon(p, q, base=2)`` computes (the tests check
    equality), in numpy so the evaluator needs no scipy, and with one change: scipy takes the
    square root of a divergence that rounding can leave at -1e-17 for equal distributions and
    returns NaN (seen with scipy 1.17); here it is clipped at 0 first.
    """
    a = np.asarray(p, dtype=np.float64)
    b = np.asarray(q, dtype=np.float64)
    a, b = a / a.sum(), b / b.sum()
    m = (a + b) / 2.0
    js = (_rel_entr(a, m) + _rel_entr(b, m)) / (2.0 * np.log(2.0))
    return float(min(1.0, max(0.0, 1.0 - np.sqrt(max(float(js), 0.0)))))


def _rel_entr(x: np.ndarray, y: np.ndarray) -> float:
    """sum x log(x / y), with 0 log 0 = 0 (scipy.special.rel_entr; y > 0 wherever x > 0)."""
    nz = x > 0
    return float(np.sum(x[nz] * np.log(x[nz] / y[nz])))


def cluster_means(values: Sequence[float], clusters: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Mean of ``values`` per cluster (a question), clusters in first-seen order."""
    order: dict[str, list[float]] = {}
    for v, c in zip(values, clusters, strict=True):
        order.setdefault(c, []).append(float(v))
    keys = list(order)
    return keys, np.array([np.mean(order[k]) for k in keys])


def bootstrap_ci(
    values: Sequence[float],
    clusters: Sequence[str],
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean of ``values`` and a percentile bootstrap CI resampling *clusters* (questions):
    the countries of one question share it, so resampling items would understate the spread.
    The mean weighs each item once (as ``EvalResult.items`` does); a resample weighs each drawn
    question by its item count."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("no values to bootstrap")
    keys, _ = cluster_means(values, clusters)
    index = {k: i for i, k in enumerate(keys)}
    cid = np.array([index[c] for c in clusters])
    sums = np.bincount(cid, weights=v, minlength=len(keys))
    counts = np.bincount(cid, minlength=len(keys)).astype(np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(keys), size=(n_boot, len(keys)))
    boot = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    lo, hi = np.quantile(boot, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(v.mean()), float(lo), float(hi)

"""Global-Regional Parity and the numbers derived from it (GG-EZ, arXiv 2604.11490)."""

from __future__ import annotations

from collections.abc import Sequence


def grp(q_global: float, q_regional: float, a: float) -> float:
    """GRP = a * Q_global + (1 - a) * Q_regional, with ``a`` the region's globalisation weight."""
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"globalisation weight a must be in [0, 1], got {a}")
    return a * q_global + (1.0 - a) * q_regional


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("mean of an empty list: no benchmark produced a score")
    return sum(values) / len(values)


def global_retention(q_global: float, q_global_base: float) -> float:
    """Share of the base model's global score that is kept (1.0 = all of it)."""
    return q_global / q_global_base if q_global_base > 0 else float("nan")


# --------------------------------------------------------------------------------------------
# Confidence intervals: a seeded percentile bootstrap over the items of each benchmark.
#
# A benchmark's resample indices depend only on (seed, benchmark name, replicate), never on the
# model: two models scored on the same items are resampled identically, so differences between
# them are paired (the noise that both share cancels), as a one-item difference on a 240-item
# test must be judged.

BOOTSTRAP_REPS = 1000
CI_LEVEL = 0.95


def _indices(seed: int, name: str, n: int, reps: int):
    import zlib

    import numpy as np

    rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
    return rng.integers(0, n, size=(reps, n))


def replicate_means(items: Sequence[float], seed: int, name: str, reps: int = BOOTSTRAP_REPS):
    """``reps`` bootstrap means of ``items`` (numpy array), resampled by (seed, name)."""
    import numpy as np

    x = np.asarray(items, dtype=np.float64)
    if x.size == 0:
        raise ValueError(f"benchmark {name!r}: no item scores to bootstrap")
    return x[_indices(seed, name, x.size, reps)].mean(axis=1)


def interval(replicates, level: float = CI_LEVEL) -> list[float]:
    """The central ``level`` percentile interval of bootstrap replicates."""
    import numpy as np

    lo, hi = np.quantile(np.asarray(replicates), [(1 - level) / 2, (1 + level) / 2])
    return [float(lo), float(hi)]


def role_replicates(
    benchmarks: dict[str, dict], a: float, seed: int, reps: int = BOOTSTRAP_REPS
) -> dict[str, object] | None:
    """Bootstrap replicates of Q_regional, Q_global and GRP for one model.

    ``benchmarks`` maps a benchmark name to ``{"role", "weight", "items"}`` (as scored). Returns
    None when a benchmark has no per-item scores (its metric is not a mean over items).
    """
    import numpy as np

    sums = {"regional": np.zeros(reps), "global": np.zeros(reps)}
    weights = {"regional": 0.0, "global": 0.0}
    for name, b in benchmarks.items():
        if b["role"] not in sums:  # a report-only benchmark is not part of GRP
            continue
        if not b.get("items"):
            return None
        w = float(b.get("weight", 1.0))
        sums[b["role"]] += w * replicate_means(b["items"], seed, name, reps)
        weights[b["role"]] += w
    if not weights["regional"] or not weights["global"]:
        return None
    q = {r: sums[r] / weights[r] for r in sums}
    return {
        "regional": q["regional"],
        "global": q["global"],
        "grp": a * q["global"] + (1 - a) * q["regional"],
    }


def model_intervals(
    benchmarks: dict[str, dict], a: float, seed: int
) -> dict[str, list[float]] | None:
    """95% intervals of Q_regional, Q_global and GRP for one model (None: not bootstrappable)."""
    reps = role_replicates(benchmarks, a, seed)
    if reps is None:
        return None
    return {k: interval(v) for k, v in reps.items()}


def paired_difference(
    first: dict[str, dict], second: dict[str, dict], a: float, seed: int
) -> list[float] | None:
    """95% interval of GRP(first) - GRP(second) on the same items (paired bootstrap)."""
    r1 = role_replicates(first, a, seed)
    r2 = role_replicates(second, a, seed)
    if r1 is None or r2 is None:
        return None
    return interval(r1["grp"] - r2["grp"])

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

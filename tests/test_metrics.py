"""Global-Regional Parity and the numbers derived from it, checked against the GG-EZ paper."""

from __future__ import annotations

import math

import pytest

from regionadapt import metrics
from regionadapt.errors import StageError
from regionadapt.lifecycle import choose
from regionadapt.packs import get_pack


def test_grp_reproduces_the_papers_gemma_example():
    # GG-EZ: Gemma-3 base, a = 0.43, Q_global 63.5, Q_regional 56.3 -> GRP 59.4.
    assert metrics.grp(63.5, 56.3, 0.43) == pytest.approx(59.4, abs=0.05)


def test_grp_endpoints_and_weighting():
    assert metrics.grp(0.8, 0.2, 1.0) == 0.8  # a = 1: only global counts
    assert metrics.grp(0.8, 0.2, 0.0) == 0.2  # a = 0: only regional counts
    a = get_pack("sea").a
    assert metrics.grp(1.0, 0.0, a) == pytest.approx(0.434)
    # A regional point is worth (1 - a) / a global points: for SEA, more than one.
    gain_regional = metrics.grp(0.5, 0.6, a) - metrics.grp(0.5, 0.5, a)
    gain_global = metrics.grp(0.6, 0.5, a) - metrics.grp(0.5, 0.5, a)
    assert gain_regional > gain_global


@pytest.mark.parametrize("a", [-0.01, 1.01, float("nan")])
def test_grp_refuses_a_weight_outside_0_1(a):
    with pytest.raises(ValueError, match="must be in \\[0, 1\\]"):
        metrics.grp(0.5, 0.5, a)


def test_mean_and_its_empty_case():
    assert metrics.mean([0.2, 0.4, 0.9]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="no benchmark produced a score"):
        metrics.mean([])


def test_global_retention():
    assert metrics.global_retention(0.45, 0.5) == pytest.approx(0.9)
    assert metrics.global_retention(0.55, 0.5) == pytest.approx(1.1)
    assert math.isnan(metrics.global_retention(0.3, 0.0))


def _point(b, regional, global_, a=0.434):
    return {
        "b": b,
        "regional": regional,
        "global": global_,
        "grp": metrics.grp(global_, regional, a),
    }


def test_choose_picks_highest_grp_within_the_retention_floor():
    points = [_point(0.25, 0.40, 0.60), _point(0.5, 0.55, 0.57), _point(0.75, 0.70, 0.45)]
    assert choose(points, base_global=0.60, min_retention=0.0)["b"] == 0.75
    # Keeping 90% of the base's global score rules b = 0.75 out (0.45 / 0.60 = 75%).
    assert choose(points, base_global=0.60, min_retention=0.9)["b"] == 0.5
    with pytest.raises(StageError, match="no merge ratio keeps 100%"):
        choose(points, base_global=0.61, min_retention=1.0)


def test_choose_breaks_ties_towards_the_smaller_ratio():
    # Equal GRP: the smaller b stays closer to the base model.
    points = [_point(0.75, 0.5, 0.5), _point(0.25, 0.5, 0.5)]
    assert choose(points, base_global=0.5, min_retention=0.0)["b"] == 0.25


# -- bootstrap intervals -----------------------------------------------------------------------


def test_bootstrap_interval_is_seeded_and_covers_the_mean():
    items = [1.0] * 30 + [0.0] * 70
    ci = metrics.interval(metrics.replicate_means(items, seed=0, name="bench"))
    assert ci == metrics.interval(metrics.replicate_means(items, seed=0, name="bench"))
    assert ci != metrics.interval(metrics.replicate_means(items, seed=1, name="bench"))
    assert ci[0] < 0.3 < ci[1]
    # binomial standard error sqrt(.3*.7/100) = 0.046: the 95% interval is about +-0.09
    assert 0.15 < ci[1] - ci[0] < 0.22


def test_grp_interval_combines_the_roles_with_their_weights():
    benchmarks = {
        "r": {"role": "regional", "weight": 1.0, "items": [1.0, 0.0] * 50},
        "g": {"role": "global", "weight": 1.0, "items": [1.0] * 100},
    }
    ci = metrics.model_intervals(benchmarks, a=0.4, seed=0)
    assert ci["global"] == [1.0, 1.0]
    assert ci["grp"][0] < 0.4 * 1.0 + 0.6 * 0.5 < ci["grp"][1]
    # a benchmark without item scores cannot be bootstrapped: no interval, not a wrong one
    assert (
        metrics.model_intervals({**benchmarks, "x": {"role": "global", "items": None}}, 0.4, 0)
        is None
    )


def test_paired_difference_sees_a_consistent_one_item_gap_as_noise_and_a_large_one_not():
    base = [1.0] * 120 + [0.0] * 120
    one_more = [1.0] * 121 + [0.0] * 119  # one item better, same items otherwise
    many_more = [1.0] * 180 + [0.0] * 60
    glob = {"g": {"role": "global", "items": [1.0] * 10}}

    def bench(items):
        return {"r": {"role": "regional", "items": items}, **glob}

    small = metrics.paired_difference(bench(one_more), bench(base), a=0.5, seed=0)
    large = metrics.paired_difference(bench(many_more), bench(base), a=0.5, seed=0)
    assert small[0] <= 0.0 < small[1]  # one item better: the interval cannot exclude 0
    assert large[0] > 0

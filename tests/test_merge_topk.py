"""The introsort replay behind TIES' trim selects exactly what ``torch.argsort`` selects."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from regionadapt_plugins.merge_methods import topk


def argsort_mask(w: np.ndarray, k: int) -> np.ndarray:
    mask = np.zeros(w.size, dtype=bool)
    mask[torch.argsort(torch.from_numpy(w).abs(), descending=True)[:k].numpy()] = True
    return mask


def test_replay_matches_argsort_on_many_arrays():
    rng = np.random.default_rng(7)
    for _ in range(400):
        n = int(rng.integers(1, 4000))
        scale = float(rng.choice([0.5, 3.0, 40.0, 1e7]))  # from all-ties to all-distinct
        w = np.round(rng.standard_normal(n) * scale).astype(np.float32)  # signed: |w| ranks
        if rng.random() < 0.2:
            w[: n // 2] = 1.0  # long runs of one value, sorted and unsorted parts
        k = int(rng.integers(1, n + 1))
        got = topk.top_k_mask_numpy(w, k)
        assert got is not None
        assert np.array_equal(got, argsort_mask(w, k)), (n, scale, k)


def test_replay_on_a_large_bf16_delta():
    g = torch.Generator().manual_seed(1)
    base = torch.randn(400_000, generator=g)
    delta = (base + 0.01 * torch.randn(400_000, generator=g)).bfloat16().float()
    w = delta - base.bfloat16().float()
    for k in (1, 40_000, 200_000, 399_999):
        assert torch.equal(
            topk.top_k_like_mergekit(w, k), torch.from_numpy(argsort_mask(w.numpy(), k))
        )


def test_falls_back_to_the_sort_when_the_replay_is_not_exact(monkeypatch):
    """Another sort implementation (MSVC, libc++), NaN or float64: the sort itself runs."""
    w = torch.tensor([3.0, 1.0, 1.0, 1.0, 2.0] * 10)
    calls = []
    real = topk._argsort_mask
    monkeypatch.setattr(topk, "_argsort_mask", lambda w, k: calls.append(k) or real(w, k))
    monkeypatch.setattr(topk, "_checked", False)
    assert torch.equal(topk.top_k_like_mergekit(w, 7), real(w, 7))
    monkeypatch.setattr(topk, "_checked", True)
    topk.top_k_like_mergekit(w.double(), 7)
    nan = w.clone()
    nan[3] = float("nan")
    topk.top_k_like_mergekit(nan, 7)
    assert calls == [7, 7, 7]


def test_self_check_passes_here():
    """On Linux (CI's platform) torch's CPU sort is libstdc++'s introsort: the fast replay must
    be the path taken, or TIES silently falls back to the full sort's speed."""
    if sys.platform != "linux":
        pytest.skip("the replay targets libstdc++'s introsort (Linux builds of torch)")
    assert topk.replay_matches_torch()

"""DARE is random: test its statistics and that a fixed seed reproduces the output exactly."""

from __future__ import annotations

import pytest
import torch
from _merge_util import load_folder, random_state, save_sharded, save_single
from regionadapt_plugins.merge_methods.task_vectors import dare_drop

from regionadapt.merge import get_method, merge_checkpoints


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_drop_fraction_and_rescale(p):
    delta = torch.randn(200_000, generator=torch.Generator().manual_seed(0))
    out = dare_drop(delta, p, torch.Generator().manual_seed(1))
    dropped = out == 0
    assert abs(dropped.float().mean().item() - p) < 0.01
    torch.testing.assert_close(out[~dropped], delta[~dropped] / (1 - p))


def test_expected_value_preserved():
    """Averaged over many seeds the dropped-and-rescaled delta converges to the delta."""
    delta = torch.linspace(-1, 1, 1000)
    p, n = 0.7, 4000
    acc = torch.zeros_like(delta)
    for s in range(n):
        acc += dare_drop(delta, p, torch.Generator().manual_seed(s))
    mean = acc / n
    # std of one draw is |d| * sqrt(p / (1 - p)); of the mean, that / sqrt(n): allow 5 sigma
    bound = 5 * delta.abs() * (p / (1 - p)) ** 0.5 / n**0.5 + 1e-6
    assert ((mean - delta).abs() <= bound).all()
    assert abs(mean.sum() - delta.sum()) < 0.05 * delta.abs().sum()


def test_dare_linear_is_task_arithmetic_in_expectation():
    method = get_method("dare-linear", {"drop_rate": 0.5})
    base = torch.zeros(20_000)
    tuned = [torch.full((20_000,), 1.0), torch.full((20_000,), -2.0)]
    g = torch.Generator().manual_seed(3)
    out = method.merge_tensor(tuned, [1.0, 0.25], base, "k", g)
    # each entry is 0, 2, -1 or 1 (kept/dropped combinations); the mean is 1 - 0.5 = 0.5
    assert set(out.unique().tolist()) <= {0.0, 2.0, -1.0, 1.0}
    assert abs(out.mean().item() - 0.5) < 0.03


@pytest.mark.parametrize("method", ["dare-linear", "dare-ties"])
def test_fixed_seed_reproduces_exactly(tmp_path, method):
    shapes = {f"l{i}.w": (64, 64) for i in range(6)}
    base = save_single(random_state(0, shapes=shapes), tmp_path / "base")
    a = save_single(random_state(1, shapes=shapes), tmp_path / "a")
    b = save_sharded(random_state(2, shapes=shapes), tmp_path / "b", 3)
    kw = {"base": base, "params": {"drop_rate": 0.6}}
    merge_checkpoints(method, [a, b], tmp_path / "r1", seed=7, **kw)
    # same seed, different output sharding: identical tensors (seeded per tensor name)
    merge_checkpoints(method, [a, b], tmp_path / "r2", seed=7, max_shard_bytes=40_000, **kw)
    merge_checkpoints(method, [a, b], tmp_path / "r3", seed=8, **kw)
    r1, r2, r3 = (load_folder(tmp_path / r) for r in ("r1", "r2", "r3"))
    assert (tmp_path / "r2" / "model.safetensors.index.json").exists()
    for k in shapes:
        assert torch.equal(r1[k], r2[k])
        assert not torch.equal(r1[k], r3[k])
    merge_checkpoints(method, [a, b], tmp_path / "r4", seed=7, **kw)
    assert (tmp_path / "r1" / "model.safetensors").read_bytes() == (
        tmp_path / "r4" / "model.safetensors"
    ).read_bytes()

"""A third-party merge method installed through an entry point works like a built-in one, and
every registered method honours the base-class contract."""

from __future__ import annotations

import importlib

import pytest
import torch
from _merge_util import load_folder, random_state, save_single

from regionadapt import plugins
from regionadapt.merge import MergeMethod, get_method, merge_checkpoints

THIRD_PARTY = """
from typing import ClassVar
from regionadapt.hookspecs import hookimpl
from regionadapt.merge import MergeMethod


class Median(MergeMethod):
    name = "median"
    description = "Element-wise median of the models."
    reference_url = "https://example.org/median"
    takes_weights: ClassVar[bool] = False

    def merge_tensor(self, tensors, weights, base, key, generator):
        import torch

        return torch.stack([t.float() for t in tensors]).median(dim=0).values


@hookimpl
def register_merge_methods(register):
    register(Median)
"""


@pytest.fixture
def installed_third_party(tmp_path, monkeypatch):
    site = tmp_path / "site"
    dist = site / "regionadapt_median-0.1.dist-info"
    dist.mkdir(parents=True)
    (site / "regionadapt_median.py").write_text(THIRD_PARTY)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: regionadapt-median\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text("[regionadapt]\nmedian = regionadapt_median\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    monkeypatch.delenv(plugins.BUILTIN_ONLY_ENV, raising=False)
    monkeypatch.setenv(plugins.ONLY_ENV, "merge_methods,median")
    monkeypatch.setattr(plugins, "_loaded", False)
    plugins._registries.clear()
    yield
    plugins.unregister_plugin("median")


def test_entry_point_method_merges(installed_third_party, tmp_path):
    sds = [random_state(s) for s in (1, 2, 3)]
    paths = [save_single(sd, tmp_path / f"m{i}") for i, sd in enumerate(sds)]
    assert plugins.registry("merge_methods").owner("median") == "median"
    merge_checkpoints("median", paths, tmp_path / "out")
    merged = load_folder(tmp_path / "out")
    for k in sds[0]:
        expected = torch.stack([sd[k] for sd in sds]).median(dim=0).values
        assert torch.equal(merged[k], expected)


BUILTINS = ["linear", "soup", "task-arithmetic", "ties", "dare-linear", "dare-ties", "slerp"]


def test_builtins_registered():
    assert set(BUILTINS) <= set(plugins.registry("merge_methods").names())


@pytest.mark.parametrize("name", BUILTINS)
def test_method_contract(name):
    """Every method: documented, default params valid, same shape out, inputs untouched."""
    cls = plugins.registry("merge_methods").get(name)
    assert issubclass(cls, MergeMethod)
    assert len(cls.description) > 40 and cls.reference_url.startswith("https://")
    method = get_method(name)
    g = torch.Generator().manual_seed(0)
    tensors = [torch.randn(6, 5, generator=g) for _ in range(2)]
    base = torch.randn(6, 5, generator=g) if cls.needs_base else None
    copies = [t.clone() for t in tensors]
    weights = method.resolve_weights(None, 2)
    gen = torch.Generator().manual_seed(1) if cls.stochastic else None
    out = method.merge_tensor(tensors, weights, base, "k", gen)
    assert out.shape == (6, 5) and out.is_floating_point()
    assert all(torch.equal(a, b) for a, b in zip(tensors, copies, strict=True))
    # identical inputs are a fixed point of every method (the base included)
    same = [tensors[0], tensors[0].clone()]
    fixed = method.merge_tensor(same, weights, tensors[0] if cls.needs_base else None, "k", gen)
    torch.testing.assert_close(fixed.float(), tensors[0])

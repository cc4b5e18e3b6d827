"""The backend contract, checked on every registered backend with a tiny real model.

prepare_base -> one short tune -> the mergeable files exist in both folders -> the real linear
merge at b = 0 and b = 1 reproduces base and tuned tensor for tensor -> ``load`` satisfies the
backend's handle protocol -> ``unload``; and where the backend sweeps in memory
(``interpolate``), the model it gives equals the linear merge loaded from disk.

Each backend's tiny model comes from a kit module in tests/ (``KITS``): a new backend must
bring one, or ``test_every_backend_has_a_kit`` fails.
"""

from __future__ import annotations

import importlib

import pytest

from regionadapt.components import Context, Evaluator, build
from regionadapt.handles import HANDLES
from regionadapt.packs import ARCHS, TASKS
from regionadapt.plugins import registry

# backend name -> module in tests/ with tiny_base(tmp) -> ModelParams values,
# tiny_train_data(tmp) -> saved dataset path, tiny_tune_params() -> TuneParams values,
# probe(handle) -> a tensor that changes with the weights.
KITS = {"open_clip": "openclip_tiny", "diffusers": "t2i_tiny", "transformers": "lvlm_tiny"}


def _backends() -> list[str]:
    return [name for name, _ in registry("backends").items()]


def test_every_backend_has_a_kit():
    assert set(_backends()) <= set(KITS), "add a tiny-model kit for the new backend to KITS"


def _tensors(folder, files):
    from safetensors.torch import load_file

    out = {}
    for f in files:
        out.update({f"{f}:{k}": v for k, v in load_file(str(folder / f)).items()})
    return out


def _close(a, b) -> bool:
    import torch

    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    a, b = torch.as_tensor(a).float(), torch.as_tensor(b).float()
    return a.shape == b.shape and torch.allclose(a, b, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("name", _backends())
def test_backend_contract(name, tmp_path):
    import torch

    from regionadapt.merge import merge_checkpoints

    torch.set_num_threads(1)
    kit = importlib.import_module(KITS[name])
    backend = build("backends", name)
    assert backend.arch in ARCHS and backend.handle is HANDLES[backend.arch]
    assert backend.description and backend.recipe
    assert all(0.0 <= b <= 1.0 for b in backend.merge_grid)
    ctx = Context(pack=None, seed=0)
    base, tuned = tmp_path / "tune" / "base", tmp_path / "tune" / "tuned"
    backend.prepare_base(ctx, backend.ModelParams(**kit.tiny_base(tmp_path)), base)
    files = backend.mergeable_files(base)
    assert files and all((base / f).is_file() for f in files)
    summary = backend.tune(
        ctx,
        backend.TuneParams(**kit.tiny_tune_params()),
        base,
        kit.tiny_train_data(tmp_path),
        tuned,
    )
    assert isinstance(summary, dict)
    assert backend.mergeable_files(tuned) == files
    before, after = _tensors(base, files), _tensors(tuned, files)
    assert before.keys() == after.keys()
    assert any(not torch.equal(before[k], after[k]) for k in before), "tuning changed nothing"

    for b, expect in ((0.0, before), (1.0, after)):
        out = tmp_path / f"b{b}"
        merge_checkpoints("linear", [tuned, base], out, weights=[b, 1 - b], files=files)
        merged = _tensors(out, files)
        assert all(torch.equal(merged[k], expect[k]) for k in expect), f"b={b}"
        handle = backend.load(out)
        assert isinstance(handle, backend.handle)
        backend.unload(handle)

    in_memory = backend.interpolate(base, tuned, 0.5)
    if in_memory is not None:  # the cheap sweep must be the same merge
        out = tmp_path / "b0.5"
        merge_checkpoints("linear", [tuned, base], out, weights=[0.5, 0.5], files=files)
        from_disk = backend.load(out)
        assert _close(kit.probe(in_memory), kit.probe(from_disk))
        backend.unload(in_memory)
        backend.unload(from_disk)


def _evaluators() -> list[str]:
    return [name for name, _ in registry("evaluators").items()]


@pytest.mark.parametrize("name", _evaluators())
def test_evaluator_declares_what_it_scores(name):
    cls = registry("evaluators").get(name)
    assert issubclass(cls, Evaluator) and cls.description
    assert cls.archs and set(cls.archs) <= set(ARCHS)
    assert set(cls.tasks) <= set(TASKS)
    # The handle it needs is one every arch it scores provides.
    if cls.needs is not None:
        assert all(issubclass(HANDLES[a], cls.needs) for a in cls.archs)

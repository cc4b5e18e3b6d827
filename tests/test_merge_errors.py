"""Bad input is refused before anything is written, with a message naming what is wrong;
a merge that fails half-way leaves no output and no temporary folder behind."""

from __future__ import annotations

import json

import pytest
import torch
from _merge_util import random_state, save_sharded, save_single

from regionadapt import plugins
from regionadapt.errors import MergeError
from regionadapt.hookspecs import hookimpl
from regionadapt.merge import MergeMethod, merge_checkpoints, preflight


@pytest.fixture
def two(tmp_path):
    return [save_single(random_state(s), tmp_path / f"m{s}") for s in (1, 2)]


def assert_nothing_written(tmp_path, out):
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_missing_shard_named(tmp_path, two):
    bad = save_sharded(random_state(3), tmp_path / "bad", 2)
    (bad / "model-00002-of-00002.safetensors").unlink()
    out = tmp_path / "out"
    with pytest.raises(MergeError, match=r"shard 'model-00002-of-00002.safetensors' is missing"):
        merge_checkpoints("linear", [two[0], bad], out)
    assert_nothing_written(tmp_path, out)


def test_truncated_file_named(tmp_path, two):
    path = two[1] / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(
        MergeError, match=r"m2/model.safetensors: truncated .*first incomplete tensor"
    ):
        preflight(two)
    path.write_bytes(data[:5])
    with pytest.raises(MergeError, match="not a safetensors file"):
        preflight(two)
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json!!!!!!}")
    with pytest.raises(MergeError, match="corrupt safetensors header"):
        preflight(two)


def test_first_mismatched_shape_named(tmp_path, two):
    sd = random_state(3)
    sd["a.weight"] = torch.zeros(16, 9)
    sd["b.weight"] = torch.zeros(5, 16)
    bad = save_single(sd, tmp_path / "bad")
    out = tmp_path / "out"
    with pytest.raises(MergeError, match=r"tensor 'a.weight' .*shape \[16, 8\] .* but \[16, 9\]"):
        merge_checkpoints("linear", [two[0], bad], out)
    assert_nothing_written(tmp_path, out)


def test_missing_and_extra_tensors_named(tmp_path, two):
    sd = random_state(3)
    del sd["b.weight"]
    with pytest.raises(MergeError, match=r"tensor 'b.weight' .*missing from .*bad"):
        preflight([two[0], save_single(sd, tmp_path / "bad")])
    sd = random_state(3)
    sd["z.extra"] = torch.zeros(2)
    with pytest.raises(MergeError, match=r"tensor 'z.extra' .*present in .*bad2"):
        preflight([two[0], save_single(sd, tmp_path / "bad2")])


def test_dtype_mismatch_needs_explicit_dtype(tmp_path, two):
    bf = save_single(random_state(3, torch.bfloat16), tmp_path / "bf")
    with pytest.raises(
        MergeError, match=r"tensor '[abc]\.\w+' .*dtype float32 .*bfloat16.*pass dtype="
    ):
        preflight([two[0], bf])
    preflight([two[0], bf], dtype="float32")  # an explicit choice is allowed
    with pytest.raises(MergeError, match="unknown output dtype 'fp8'; expected one of float32"):
        merge_checkpoints("linear", [two[0], bf], tmp_path / "out", dtype="fp8")


def test_unknown_method_lists_choices(tmp_path, two):
    with pytest.raises(
        MergeError, match=r"unknown merge method 'tiez'; valid choices: .*linear.*ties"
    ):
        merge_checkpoints("tiez", two, tmp_path / "out")


@pytest.mark.parametrize(
    "method,params,weights,message",
    [
        ("ties", {"density": 0.0}, None, r"density: Input should be greater than 0"),
        ("ties", {"density": 1.5}, None, r"density: Input should be less than or equal to 1"),
        ("ties", {"densty": 0.5}, None, r"densty: unknown key"),
        ("dare-linear", {"drop_rate": 1.0}, None, r"drop_rate: Input should be less than 1"),
        ("slerp", {"t": -0.1}, None, r"t: Input should be greater than or equal to 0"),
        ("linear", {}, [0.5, -0.5], r"weight 1 is negative \(-0.5\)"),
        ("ties", {}, [1.0, -1.0], r"weight 1 is negative"),
        ("linear", {}, [0.5], r"1 weight\(s\) for 2 model\(s\)"),
        ("linear", {}, [0.0, 0.0], r"the weights sum to zero"),
        ("soup", {}, [0.5, 0.5], r"takes no per-model weights"),
        ("slerp", {}, [0.5, 0.5], r"takes no per-model weights"),
    ],
)
def test_bad_parameters(tmp_path, two, method, params, weights, message):
    base = save_single(random_state(9), tmp_path / "base")
    needs_base = method in ("ties", "dare-linear")
    out = tmp_path / "out"
    with pytest.raises(MergeError, match=message):
        merge_checkpoints(
            method, two, out, params=params, weights=weights, base=base if needs_base else None
        )
    assert_nothing_written(tmp_path, out)


def test_base_required_or_refused(tmp_path, two):
    with pytest.raises(MergeError, match="'ties' needs a base model"):
        merge_checkpoints("ties", two, tmp_path / "out")
    with pytest.raises(MergeError, match="'linear' does not use a base model"):
        merge_checkpoints("linear", two, tmp_path / "out", base=two[0])
    with pytest.raises(MergeError, match="'slerp' takes at most 2"):
        merge_checkpoints("slerp", two + two[:1], tmp_path / "out")


def test_missing_checkpoint_and_files(tmp_path, two):
    with pytest.raises(MergeError, match="nope: checkpoint not found"):
        preflight([two[0], tmp_path / "nope"])
    with pytest.raises(
        MergeError, match=r"weight file 'unet/x.safetensors' \(from files=\) not found"
    ):
        preflight(two, files=["unet/x.safetensors"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(MergeError, match="no .safetensors weight files"):
        preflight([tmp_path / "empty"])


def test_bad_index(tmp_path, two):
    bad = save_sharded(random_state(3), tmp_path / "bad", 2)
    index = bad / "model.safetensors.index.json"
    data = json.loads(index.read_text())
    data["weight_map"]["ghost"] = "model-00001-of-00002.safetensors"
    index.write_text(json.dumps(data))
    with pytest.raises(MergeError, match="tensor 'ghost' is listed in shard"):
        preflight([bad])


class Exploding(MergeMethod):
    name = "exploding-test-method"
    description = "fails on its third tensor"

    def __init__(self, params=None, **kw):
        super().__init__(params, **kw)
        self.calls = 0

    def merge_tensor(self, tensors, weights, base, key, generator):
        self.calls += 1
        if self.calls == 3:
            raise RuntimeError("boom")
        return tensors[0]


class _Plugin:
    @hookimpl
    def register_merge_methods(self, register):
        register(Exploding)


def test_failed_merge_leaves_nothing(tmp_path, two):
    plugins.register_plugin(_Plugin(), "exploding-test")
    try:
        out = tmp_path / "out"
        with pytest.raises(RuntimeError, match="boom"):
            merge_checkpoints("exploding-test-method", two, out, max_shard_bytes=64)
        assert_nothing_written(tmp_path, out)
        # a failure must not destroy an existing output either
        out.mkdir()
        (out / "old.txt").write_text("old")
        with pytest.raises(RuntimeError, match="boom"):
            merge_checkpoints("exploding-test-method", two, out, overwrite=True)
        assert (out / "old.txt").read_text() == "old"
    finally:
        plugins.unregister_plugin("exploding-test")


def test_output_inside_input_refused(tmp_path, two):
    with pytest.raises(MergeError, match="would overwrite the input"):
        merge_checkpoints("linear", two, two[0], overwrite=True)

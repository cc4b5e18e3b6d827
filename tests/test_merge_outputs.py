"""The output's config names the dtype its tensors have; differently named single-file
checkpoints merge (matched by tensor names); the sweep's ratio b maps onto every method."""

from __future__ import annotations

import json

import pytest
import torch
from _merge_util import load_folder, random_state, save_single, tiny_llama

from regionadapt.errors import MergeError
from regionadapt.merge import merge_checkpoints, ratio_merge_args


@pytest.mark.parametrize(
    "stored,out_dtype,expected",
    [(torch.float32, "bfloat16", torch.bfloat16), (torch.bfloat16, "float32", torch.float32),
     (torch.bfloat16, None, torch.bfloat16)],
)  # fmt: skip
def test_from_pretrained_without_dtype_loads_the_merged_dtype(
    tmp_path, stored, out_dtype, expected
):
    transformers = pytest.importorskip("transformers")
    tiny_llama(tmp_path / "a", 1, stored, layers=2)
    tiny_llama(tmp_path / "b", 2, stored, layers=2)
    if out_dtype is None:  # a config naming another dtype than its tensors is corrected too
        cfg = json.loads((tmp_path / "a" / "config.json").read_text())
        cfg["dtype"] = "float32"
        (tmp_path / "a" / "config.json").write_text(json.dumps(cfg))
    out = tmp_path / "out"
    merge_checkpoints("linear", [tmp_path / "a", tmp_path / "b"], out, dtype=out_dtype)
    model = transformers.AutoModelForCausalLM.from_pretrained(out)
    assert model.dtype == expected
    assert json.loads((out / "config.json").read_text())["dtype"] == str(expected).split(".")[1]


def test_older_transformers_configs_get_torch_dtype(tmp_path):
    for name, seed in (("a", 1), ("b", 2)):
        save_single(random_state(seed), tmp_path / name)
        (tmp_path / name / "config.json").write_text(json.dumps({
            "model_type": "llama", "torch_dtype": "float32", "transformers_version": "4.44.0",
            "text_config": {"torch_dtype": "float32"}}))  # fmt: skip
    merge_checkpoints("linear", [tmp_path / "a", tmp_path / "b"], tmp_path / "o", dtype="float16")
    cfg = json.loads((tmp_path / "o" / "config.json").read_text())
    assert cfg["torch_dtype"] == cfg["text_config"]["torch_dtype"] == "float16"
    assert "dtype" not in cfg


def test_differently_named_single_files_merge_by_tensor_names(tmp_path):
    a = save_single(random_state(1), tmp_path / "x", "model_a.safetensors") / "model_a.safetensors"
    b = save_single(random_state(2), tmp_path / "y", "tuned-7.safetensors") / "tuned-7.safetensors"
    report = merge_checkpoints("linear", [a, b], tmp_path / "o", weights=[0.25, 0.75])
    assert report.files == ["model_a.safetensors"]  # named after the first model
    merged = load_folder(tmp_path / "o", "model_a.safetensors")
    for k, v in random_state(1).items():
        assert torch.equal(merged[k], torch.lerp(random_state(2)[k], v, 0.25)), k
    sd = random_state(3)
    sd["extra"] = torch.zeros(3)
    c = save_single(sd, tmp_path / "z", "other.safetensors") / "other.safetensors"
    with pytest.raises(MergeError, match="has weight file 'other.safetensors' that .* lacks"):
        merge_checkpoints("linear", [a, c], tmp_path / "o2")


def ratio_merge(tmp_path, method, b, params=None):
    tuned = save_single(random_state(1), tmp_path / "tuned")
    base = save_single(random_state(2), tmp_path / "base")
    r = ratio_merge_args(method, b, params, tuned=tuned, base=base)
    out = tmp_path / f"{method}-{b}"
    merge_checkpoints(method, r["models"], out, base=r["base"], weights=r["weights"],
                      params=r["params"])  # fmt: skip
    return load_folder(out), r["mapping"]


@pytest.mark.parametrize(
    "method,params,mapping",
    [("linear", None, "weights = [b, 1 - b] for [tuned, base]"),
     ("slerp", None, "t = b, from base (b = 0) to tuned (b = 1)"),
     ("ties", {"density": 1.0}, "lambda = b, models [tuned] on base"),
     ("task-arithmetic", None, "lambda = b, models [tuned] on base")],
)  # fmt: skip
def test_ratio_b_runs_from_base_to_tuned(tmp_path, method, params, mapping):
    tuned, base = random_state(1), random_state(2)
    at0, how = ratio_merge(tmp_path, method, 0.0, params)
    at1, _ = ratio_merge(tmp_path, method, 1.0, params)
    mid, _ = ratio_merge(tmp_path, method, 0.5, params)
    assert how == mapping
    for k in tuned:
        assert torch.equal(at0[k], base[k]), k  # b = 0: the base exactly
        torch.testing.assert_close(at1[k], tuned[k], rtol=1e-6, atol=1e-6)
        assert not torch.equal(mid[k], base[k]) and not torch.equal(mid[k], tuned[k])


def test_ratio_refusals():
    with pytest.raises(MergeError, match="'soup' has no merge ratio"):
        ratio_merge_args("soup", 0.5)
    with pytest.raises(MergeError, match=r"params: t: set by the sweep \(t = b\)"):
        ratio_merge_args("slerp", 0.5, {"t": 0.3})
    with pytest.raises(MergeError, match=r"must lie in \[0, 1\]"):
        ratio_merge_args("linear", 1.5)

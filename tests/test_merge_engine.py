"""The streaming merge engine: lerp semantics, sharded I/O, dtypes, atomic output, provenance."""

from __future__ import annotations

import json

import pytest
import torch
from _merge_util import load_folder, random_state, save_sharded, save_single
from safetensors import safe_open

from regionadapt.merge import MergeReport, merge_checkpoints


@pytest.fixture
def pair(tmp_path):
    tuned = save_single(random_state(1), tmp_path / "tuned")
    base = save_single(random_state(2), tmp_path / "base")
    (tuned / "config.json").write_text('{"kind": "tuned"}')
    (base / "config.json").write_text('{"kind": "base"}')
    return tuned, base


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("b", [0.0, 0.1, 0.75, 1.0])
def test_linear_is_lerp_from_base_to_tuned(tmp_path, b, dtype):
    sd_t, sd_b = random_state(1, dtype), random_state(2, dtype)
    tuned = save_single(sd_t, tmp_path / "tuned")
    base = save_single(sd_b, tmp_path / "base")
    out = tmp_path / "out"
    report = merge_checkpoints("linear", [tuned, base], out, weights=[b, 1 - b])
    merged = load_folder(out)
    assert set(merged) == set(sd_t)
    for k in sd_t:
        assert merged[k].dtype == dtype
        assert torch.equal(merged[k], torch.lerp(sd_b[k], sd_t[k], b)), k
        if b == 0:
            assert torch.equal(merged[k], sd_b[k])
        if b == 1:
            assert torch.equal(merged[k], sd_t[k])
    assert isinstance(report, MergeReport)
    assert report.tensors == len(sd_t)
    assert report.bytes_out == sum(v.numel() * v.element_size() for v in sd_t.values())
    assert report.bytes_in == 2 * report.bytes_out
    assert report.files == ["model.safetensors"]


def test_sharded_in_sharded_out_with_index(tmp_path):
    shapes = {f"layer{i}.weight": (32, 32) for i in range(10)}
    sd = [random_state(s, shapes=shapes) for s in (1, 2, 3)]
    a = save_sharded(sd[0], tmp_path / "a", 3)
    b = save_single(sd[1], tmp_path / "b")  # sharded and unsharded copies line up
    c = save_sharded(sd[2], tmp_path / "c", 2)
    out = tmp_path / "out"
    report = merge_checkpoints(
        "linear", [a, b, c], out, weights=[1, 2, 1], max_shard_bytes=3 * 4096
    )
    index = json.loads((out / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert shards == [f"model-{i:05d}-of-00004.safetensors" for i in range(1, 5)]
    assert index["metadata"]["total_size"] == 10 * 32 * 32 * 4
    assert report.files == shards + ["model.safetensors.index.json"]
    merged = load_folder(out)
    for k in shapes:
        expected = (sd[0][k] + 2 * sd[1][k] + sd[2][k]) / 4
        torch.testing.assert_close(merged[k], expected, rtol=1e-6, atol=1e-6)
    with safe_open(str(out / shards[0]), "pt") as fh:  # the real loader accepts our writer
        assert fh.metadata()["format"] == "pt"


def test_soup_and_task_arithmetic(tmp_path):
    sd = [random_state(s) for s in (1, 2, 3)]
    paths = [save_single(s, tmp_path / f"m{i}") for i, s in enumerate(sd)]
    merge_checkpoints("soup", paths, tmp_path / "soup")
    soup = load_folder(tmp_path / "soup")
    merge_checkpoints(
        "task-arithmetic", paths[:2], tmp_path / "ta", base=paths[2], weights=[0.5, -0.25],
        params={"lambda": 2.0},
    )  # fmt: skip
    ta = load_folder(tmp_path / "ta")
    for k in sd[0]:
        torch.testing.assert_close(soup[k], (sd[0][k] + sd[1][k] + sd[2][k]) / 3)
        tau = 0.5 * (sd[0][k] - sd[2][k]) - 0.25 * (sd[1][k] - sd[2][k])
        torch.testing.assert_close(ta[k], sd[2][k] + 2.0 * tau)


def test_other_files_copied_from_first_model_and_provenance(pair, tmp_path):
    tuned, base = pair
    (tuned / "tokenizer").mkdir()
    (tuned / "tokenizer" / "vocab.txt").write_text("a\nb\n")
    out = tmp_path / "out"
    report = merge_checkpoints("linear", [tuned, base], out, weights=[0.25, 0.75])
    assert json.loads((out / "config.json").read_text()) == {"kind": "tuned"}
    assert (out / "tokenizer" / "vocab.txt").read_text() == "a\nb\n"
    assert sorted(report.copied) == ["config.json", "tokenizer/vocab.txt"]
    prov = json.loads((out / "regionadapt_merge.json").read_text())
    assert prov["method"] == "linear" and prov["weights"] == [0.25, 0.75]


def test_only_named_files_are_merged_rest_copied(tmp_path):
    """A diffusers-like folder: merge unet/ only, copy vae/ from the first model."""
    sd = {
        m: {c: random_state(s + i) for i, c in enumerate(["unet", "vae"])}
        for m, s in [("a", 1), ("b", 5)]
    }
    for m in sd:
        for comp, state in sd[m].items():
            save_single(state, tmp_path / m / comp, "diffusion_pytorch_model.safetensors")
    out = tmp_path / "out"
    merge_checkpoints(
        "linear", [tmp_path / "a", tmp_path / "b"], out, weights=[0.5, 0.5],
        files=["unet/diffusion_pytorch_model.safetensors"],
    )  # fmt: skip
    unet = load_folder(out / "unet", "diffusion_pytorch_model.safetensors")
    vae = load_folder(out / "vae", "diffusion_pytorch_model.safetensors")
    for k in unet:
        torch.testing.assert_close(unet[k], (sd["a"]["unet"][k] + sd["b"]["unet"][k]) / 2)
        assert torch.equal(vae[k], sd["a"]["vae"][k])


def test_explicit_output_dtype_and_integer_buffers(tmp_path):
    sd_a, sd_b = random_state(1), random_state(2, torch.bfloat16)
    for sd in (sd_a, sd_b):
        sd["position_ids"] = torch.arange(7)
    a = save_single(sd_a, tmp_path / "a")
    b = save_single(sd_b, tmp_path / "b")
    merge_checkpoints("linear", [a, b], tmp_path / "out", weights=[0.5, 0.5], dtype="bfloat16")
    merged = load_folder(tmp_path / "out")
    assert merged["position_ids"].dtype == torch.int64
    assert torch.equal(merged["position_ids"], torch.arange(7))
    for k in ("a.weight", "b.weight"):
        assert merged[k].dtype == torch.bfloat16
        expected = torch.lerp(sd_b[k].float(), sd_a[k], 0.5).bfloat16()
        assert torch.equal(merged[k], expected)


def test_wider_output_dtype_keeps_precision(tmp_path):
    sd_a, sd_b = random_state(1, torch.bfloat16), random_state(2, torch.bfloat16)
    a, b = save_single(sd_a, tmp_path / "a"), save_single(sd_b, tmp_path / "b")
    merge_checkpoints("linear", [a, b], tmp_path / "out", weights=[0.3, 0.7], dtype="float32")
    merged = load_folder(tmp_path / "out")
    k = "a.weight"
    assert merged[k].dtype == torch.float32
    torch.testing.assert_close(merged[k], torch.lerp(sd_b[k].float(), sd_a[k].float(), 0.3))
    assert not torch.equal(merged[k], merged[k].bfloat16().float())  # not rounded via bf16


def test_single_file_inputs(tmp_path):
    a = save_single(random_state(1), tmp_path / "a", "open_clip_model.safetensors")
    b = save_single(random_state(2), tmp_path / "b", "open_clip_model.safetensors")
    out = tmp_path / "out"
    merge_checkpoints(
        "linear", [a / "open_clip_model.safetensors", b / "open_clip_model.safetensors"], out
    )
    assert (out / "open_clip_model.safetensors").is_file()


def test_existing_output_refused_unless_overwrite(pair, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    from regionadapt.errors import MergeError

    with pytest.raises(MergeError, match="already exists"):
        merge_checkpoints("linear", list(pair), out)
    assert (out / "keep.txt").exists()
    merge_checkpoints("linear", list(pair), out, overwrite=True)
    assert not (out / "keep.txt").exists()
    assert (out / "model.safetensors").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    "method,params", [("ties", {"density": 0.3}), ("dare-ties", {"drop_rate": 0.5})]
)
def test_workers_give_the_same_bytes_as_one(tmp_path, method, params):
    """Tensors merged in threads come out in plan order and, per tensor key, with the same
    random stream (DARE): the files are identical to a one-thread merge."""
    shapes = {f"l{i}.weight": (64, 48 + i) for i in range(12)} | {"step": ()}
    base = random_state(0, torch.bfloat16, shapes)
    base["step"] = torch.tensor(7)
    tuned = {k: (v + 0.01 * torch.randn_like(v.float())).to(v.dtype) if k != "step" else v
             for k, v in base.items()}  # fmt: skip
    save_sharded(base, tmp_path / "base", 3)
    save_sharded(tuned, tmp_path / "tuned", 3)
    outs = {}
    for workers in (1, 3):
        out = tmp_path / f"out-{workers}"
        report = merge_checkpoints(method, [tmp_path / "tuned"], out, base=tmp_path / "base",
                                   params=params, max_shard_bytes=20_000, workers=workers)  # fmt: skip
        assert report.tensors == len(shapes)
        outs[workers] = {p.name: p.read_bytes() for p in sorted(out.glob("*.safetensors*"))}
    assert len(outs[1]) > 2 and outs[1] == outs[3]

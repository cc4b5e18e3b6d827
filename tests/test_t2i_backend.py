"""The diffusers backend on tiny SD-1.x and SDXL pipelines built in code (tests/t2i_tiny.py):
load through from_pretrained, tune (LoRA and full), fused output, interpolate == linear merge,
checkpoints + resume after a real kill, and bad input refused before training."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

import t2i_tiny as T  # noqa: E402
from regionadapt_plugins.diffusers_backend.backend import DiffusersBackend  # noqa: E402

from regionadapt.components import Context  # noqa: E402
from regionadapt.errors import ConfigError  # noqa: E402

torch.set_num_threads(1)
TESTS = Path(__file__).parent


def _unet_state(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "unet" / "diffusion_pytorch_model.safetensors"))


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    root = tmp_path_factory.mktemp("t2i-bases")
    be = DiffusersBackend()
    out = {}
    for kind in ("sd", "sdxl"):
        mp = be.ModelParams(**T.tiny_base(root, kind))
        be.prepare_base(Context(pack=None), mp, root / f"base-{kind}")
        out[kind] = root / f"base-{kind}"
    out["data"] = T.tiny_train_data(root)
    return out


def _tune(tmp_path, base, data, **over):
    be = DiffusersBackend()
    tp = be.TuneParams(**T.tiny_tune_params(**over))
    summary = be.tune(Context(pack=None), tp, base, data, tmp_path / "tuned")
    return be, summary


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
def test_lora_tune_fuses_into_a_loadable_pipeline(kind, bases, tmp_path):
    from diffusers import DiffusionPipeline

    be, summary = _tune(tmp_path, bases[kind], bases["data"], lora_alpha=4)
    assert summary["steps"] == 2 and summary["samples"] == 6
    tuned = tmp_path / "tuned"
    pipe = DiffusionPipeline.from_pretrained(str(tuned))
    assert type(pipe).__name__ == ("StableDiffusionXLPipeline" if kind == "sdxl" else
                                   "StableDiffusionPipeline")  # fmt: skip
    assert be.mergeable_files(tuned) == ["unet/diffusion_pytorch_model.safetensors"]
    # Only the UNet changed; every other component is byte-identical to the base.
    for path in sorted(bases[kind].rglob("*.safetensors")):
        rel = path.relative_to(bases[kind])
        same = (tuned / rel).read_bytes() == path.read_bytes()
        assert same == (rel.parts[0] != "unet"), rel
    base_u, tuned_u = _unet_state(bases[kind]), _unet_state(tuned)
    changed = [k for k in base_u if not torch.equal(base_u[k], tuned_u[k])]
    assert changed and all(any(t in k for t in ("to_q", "to_k", "to_v", "to_out")) for k in changed)
    assert (tmp_path / "adapter" / "pytorch_lora_weights.safetensors").is_file()
    # The work folder (checkpoints and latent cache) is removed once the tune finished.
    assert not (tmp_path / "checkpoints").exists()


def test_lora_on_attention_mlp_and_conv_fuses_every_target(bases, tmp_path):
    # Regression: the adapter was saved through convert_state_dict_to_diffusers, which renames
    # attention keys to the old `lora.down/up` form but leaves proj/ff/conv keys as `lora_A/B`;
    # load_lora_weights then read the file as peft-format and silently dropped every attention
    # LoRA (the demo's tuned UNet kept its base cross-attention).
    from diffusers import UNet2DConditionModel
    from peft import LoraConfig
    from peft.tuners.tuners_utils import check_target_module_exists  # peft's own matching rule

    targets = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "ff.net.2", "conv1"]
    _tune(tmp_path, bases["sd"], bases["data"], lora_targets=targets)
    base_u, tuned_u = _unet_state(bases["sd"]), _unet_state(tmp_path / "tuned")
    changed = {k.removesuffix(".weight") for k in base_u if not torch.equal(base_u[k], tuned_u[k])}
    config = LoraConfig(target_modules=targets)
    unet = UNet2DConditionModel.from_pretrained(str(bases["sd"] / "unet"))
    wanted = {n for n, _ in unet.named_modules() if n and check_target_module_exists(config, n)}
    assert wanted and changed == wanted


@pytest.mark.parametrize("b", [0.0, 0.3, 1.0])
def test_interpolate_equals_the_linear_merge_of_unets(b, bases, tmp_path):
    be, _ = _tune(tmp_path, bases["sd"], bases["data"], lora_alpha=6, lora_r=2)
    handle = be.interpolate(bases["sd"], tmp_path / "tuned", b)
    got = {k: v.float() for k, v in handle.pipe.unet.state_dict().items()}
    base_u, tuned_u = _unet_state(bases["sd"]), _unet_state(tmp_path / "tuned")
    assert set(got) == set(base_u)
    for k in base_u:
        want = (1 - b) * base_u[k].float() + b * tuned_u[k].float()
        torch.testing.assert_close(got[k], want, rtol=1e-5, atol=1e-6, msg=k)
    assert any(not torch.equal(base_u[k], tuned_u[k]) for k in base_u)
    be.unload(handle)
    assert handle.pipe is None


def test_full_tune_with_ema_min_snr_v_prediction_and_noise_offset(bases, tmp_path):
    from diffusers import DiffusionPipeline

    be, summary = _tune(
        tmp_path, bases["sdxl"], bases["data"], method="full", lr=1e-3, ema=True,
        ema_decay=0.9, snr_gamma=5.0, noise_offset=0.05, prediction_type="v_prediction",
        gradient_checkpointing=True, epochs=2, max_steps=3,
    )  # fmt: skip
    assert summary["prediction_type"] == "v_prediction" and summary["steps"] == 3
    assert summary["trainable_params"] == sum(
        v.numel() for v in _unet_state(bases["sdxl"]).values()
    )
    base_u, tuned_u = _unet_state(bases["sdxl"]), _unet_state(tmp_path / "tuned")
    assert sum(not torch.equal(base_u[k], tuned_u[k]) for k in base_u) > len(base_u) // 2
    assert not (tmp_path / "adapter").exists()  # full tune: no adapter, no cheap sweep
    assert be.interpolate(bases["sdxl"], tmp_path / "tuned", 0.5) is None
    pipe = DiffusionPipeline.from_pretrained(str(tmp_path / "tuned"))
    assert pipe.scheduler.config.prediction_type == "v_prediction"


def test_min_snr_weights_follow_the_paper():
    from regionadapt_plugins.diffusers_backend.train import snr_weights

    ac = torch.tensor([0.99, 0.5, 0.01])
    t = torch.arange(3)
    snr = ac / (1 - ac)  # 99, 1, 0.0101
    gamma = 5.0
    torch.testing.assert_close(snr_weights(ac, t, gamma, "epsilon"), snr.clamp(max=gamma) / snr)
    torch.testing.assert_close(
        snr_weights(ac, t, gamma, "v_prediction"), snr.clamp(max=gamma) / (snr + 1)
    )
    torch.testing.assert_close(snr_weights(ac, t, gamma, "sample"), snr.clamp(max=gamma))


def test_generate_is_seeded_per_image(bases):
    be = DiffusersBackend()
    h = be.load(bases["sd"])
    prompts = ["a red square", "a blue square", "a green square"]
    together = h.generate(prompts, seed=7, batch_size=3, num_inference_steps=2)
    one_by_one = h.generate(prompts, seed=7, batch_size=1, num_inference_steps=2)
    tail = h.generate(prompts[1:], seed=8, batch_size=2, num_inference_steps=2)
    import numpy as np

    arrays = [np.asarray(im) for im in together]
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(arrays, one_by_one, strict=True))
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(arrays[1:], tail, strict=True))
    assert not np.array_equal(arrays[0], arrays[1])
    assert together[0].size == (16, 16)
    with pytest.raises(ValueError, match="prompt list is empty"):
        h.generate([], seed=0)


RESUME_SCRIPT = r"""
import sys, time, torch
torch.set_num_threads(1)
sys.path.insert(0, sys.argv[1])
import t2i_tiny as T
from pathlib import Path
from regionadapt.components import Context
from regionadapt_plugins.diffusers_backend import train
from regionadapt_plugins.diffusers_backend.backend import DiffusersBackend
slow = sys.argv[5] == "slow"
real = train.train_unet
def paced(*a, **k):  # a step every 0.4 s, so the parent can kill between checkpoints
    return real(*a, on_step=(lambda s: time.sleep(0.4)) if slow else None, **k)
train.train_unet = paced
be = DiffusersBackend()
tp = be.TuneParams(**T.tiny_tune_params(method="full", epochs=3, max_steps=8, batch_size=2,
                   checkpoint_every=2, checkpoint_dir=sys.argv[4], lr=1e-3))
s = be.tune(Context(pack=None), tp, Path(sys.argv[2]), Path(sys.argv[6]), Path(sys.argv[3]))
print("RESUMED_AT", s["resumed_at_step"], "STEPS", s["steps"])
"""


def _run_tune(args: list[str], **kw) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", RESUME_SCRIPT, str(TESTS), *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw,
    )  # fmt: skip


def test_killed_tune_resumes_from_its_last_checkpoint(bases, tmp_path):
    base, data = str(bases["sd"]), str(bases["data"])
    ckpt = tmp_path / "ckpt"
    proc = _run_tune([base, str(tmp_path / "out"), str(ckpt), "slow", data])
    deadline = time.time() + 120
    while time.time() < deadline and not (ckpt / "step-00000004" / "meta.json").exists():
        time.sleep(0.1)
        assert proc.poll() is None, proc.stdout.read()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "out").exists()
    resumed = _run_tune([base, str(tmp_path / "out"), str(ckpt), "fast", data])
    log, _ = resumed.communicate(timeout=180)
    assert resumed.returncode == 0, log
    at = int(log.split("RESUMED_AT ")[1].split()[0])
    assert at in (4, 6), log  # killed after step 4's checkpoint, before the last step
    be = DiffusersBackend()  # the uninterrupted run, in this process
    tp = be.TuneParams(**T.tiny_tune_params(method="full", epochs=3, max_steps=8, batch_size=2,
                                            checkpoint_every=2, lr=1e-3))  # fmt: skip
    assert (
        be.tune(Context(pack=None), tp, bases["sd"], bases["data"], tmp_path / "ref")[
            "resumed_at_step"
        ]
        == 0
    )
    got, want = _unet_state(tmp_path / "out"), _unet_state(tmp_path / "ref")
    assert any(not torch.equal(want[k], _unet_state(bases["sd"])[k]) for k in want)
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=1e-5, atol=1e-6, msg=k)


# -- bad input, refused before training -----------------------------------------------------


def test_missing_component_is_named(bases, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(bases["sd"], broken)
    shutil.rmtree(broken / "vae")
    be = DiffusersBackend()
    with pytest.raises(ConfigError, match="component 'vae'"):
        be.load(broken)
    index = json.loads((broken / "model_index.json").read_text())
    del index["vae"]
    (broken / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(ConfigError, match="declares no vae"):
        be.load(broken)
    with pytest.raises(ConfigError, match="does not exist"):
        be.load(tmp_path / "nowhere")
    (tmp_path / "m.ckpt").write_bytes(b"x")
    with pytest.raises(ConfigError, match="pickle"):
        be.load(tmp_path / "m.ckpt")


def test_lora_targets_that_match_nothing_fail_before_training(bases, tmp_path):
    with pytest.raises(ConfigError, match=r"lora_targets: \['q_proj'\] match no"):
        _tune(tmp_path, bases["sd"], bases["data"], lora_targets=["to_q", "q_proj"])
    assert not (tmp_path / "checkpoints").exists()  # refused before encoding anything


def test_adapter_keys_not_matching_the_unet_are_refused(bases, tmp_path):
    from safetensors.torch import load_file, save_file

    be, _ = _tune(tmp_path, bases["sd"], bases["data"])
    path = tmp_path / "adapter" / "pytorch_lora_weights.safetensors"
    state = load_file(str(path))
    save_file({k.replace("attentions", "attention_blocks"): v for k, v in state.items()}, str(path))
    with pytest.raises(ConfigError, match="LoRA keys match no module of the UNet"):
        be.interpolate(bases["sd"], tmp_path / "tuned", 0.5)


def test_an_adapter_diffusers_would_load_in_part_is_refused(bases, tmp_path):
    # The mixed-key file older versions wrote: attention keys renamed to `lora.down/up`.
    from safetensors.torch import load_file, save_file

    be, _ = _tune(tmp_path, bases["sd"], bases["data"], lora_targets=["to_q", "proj_in"])
    path = tmp_path / "adapter" / "pytorch_lora_weights.safetensors"
    state = load_file(str(path))
    renamed = {}
    for k, v in state.items():
        if ".to_q." in k:
            k = k.replace("lora_A", "lora.down").replace("lora_B", "lora.up")
        renamed[k] = v
    save_file(renamed, str(path))
    with pytest.raises(ConfigError, match=r"loaded the LoRA of \d+ of \d+ modules"):
        be.interpolate(bases["sd"], tmp_path / "tuned", 0.5)


def test_resolution_the_vae_cannot_take(tmp_path):
    be = DiffusersBackend()
    folder = T.save_pipeline(T.sd_pipeline(vae_blocks=2), tmp_path / "p")
    mp = be.ModelParams(model=str(folder), resolution=18)
    with pytest.raises(ConfigError, match="resolution 18 is not a multiple of 4"):
        be.prepare_base(Context(pack=None), mp, tmp_path / "base")
    be.prepare_base(Context(pack=None), be.ModelParams(model=str(folder)), tmp_path / "base")
    tp = be.TuneParams(**T.tiny_tune_params(resolution=30))
    with pytest.raises(ConfigError, match="t2i.tune.resolution: resolution 30"):
        be.tune(Context(pack=None), tp, tmp_path / "base", tmp_path / "nodata", tmp_path / "t")


def test_a_hub_id_loads_from_the_local_hub_cache_offline(bases, tmp_path):
    """The hub code path (a repo id, not a folder), resolved from a hub cache with no network."""
    import shutil

    repo = tmp_path / "hub" / "models--tiny-org--tiny-sd"
    commit = "0" * 40
    shutil.copytree(bases["sd"], repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    code = (
        "from regionadapt_plugins.diffusers_backend.model import load_pipeline\n"
        "print(type(load_pipeline('tiny-org/tiny-sd')).__name__)\n"
        "try:\n    load_pipeline('tiny-org/not-cached')\n"
        "except Exception as exc:\n    print(type(exc).__name__, exc)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("StableDiffusionPipeline\n"), out.stdout
    assert "ConfigError cannot load diffusers pipeline 'tiny-org/not-cached'" in out.stdout

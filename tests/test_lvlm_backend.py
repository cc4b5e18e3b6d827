"""The transformers chat Backend end to end on tiny models: prepare_base, tune (LoRA and full),
export (a full model loading with from_pretrained, trained projector included), the adapter at
scale b equal to the linear merge at b, resume after a kill."""

from __future__ import annotations

import json

import lvlm_tiny as K
import pytest
from data_kit import make_ctx

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from regionadapt_plugins.chat_backend import model as M  # noqa: E402
from regionadapt_plugins.chat_backend.backend import TransformersChatBackend  # noqa: E402
from regionadapt_plugins.chat_backend.params import ModelParams, TuneParams  # noqa: E402
from regionadapt_plugins.chat_backend.train import part_of, train_chat  # noqa: E402

from regionadapt.components import ADAPTER_DIR  # noqa: E402
from regionadapt.handles import ChatModel, ChatPrompt  # noqa: E402


def _weights(folder):
    from safetensors.torch import load_file

    out = {}
    for f in M.weight_files(folder):
        out.update(load_file(str(folder / f)))
    return out


def _tune(tmp_path, family="llava", **overrides):
    torch.set_num_threads(1)
    backend = TransformersChatBackend()
    ctx = make_ctx(tmp_path)
    src = K.build(family, tmp_path / "src")
    base = tmp_path / "tune" / "base"
    backend.prepare_base(ctx, ModelParams(model=str(src)), base)
    params = TuneParams(**{**K.tiny_tune_params(), **overrides})
    data = K.tiny_train_data(tmp_path)
    summary = backend.tune(ctx, params, base, data, tmp_path / "tune" / "tuned")
    return backend, base, tmp_path / "tune" / "tuned", summary


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory):
    return _tune(tmp_path_factory.mktemp("lora"), max_steps=3, lr=5e-3)


def test_lora_tune_exports_a_full_model_and_the_adapter(lora_run):
    backend, base, tuned, summary = lora_run
    assert summary["steps"] == 3 and summary["first_loss"] > 0
    assert backend.mergeable_files(tuned) == ["model.safetensors"]
    assert (tuned.parent / ADAPTER_DIR / "adapter_config.json").is_file()
    for name in ("config.json", "generation_config.json", "processor_config.json"):
        assert (tuned / name).is_file(), name
    b, t = _weights(base), _weights(tuned)
    assert set(b) == set(t)  # the merge engine needs the same names on both sides
    changed = {k for k in b if not torch.equal(b[k], t[k])}
    # LoRA on the language model only: vision tower and projector unchanged, adapters fused.
    assert changed and all(part_of(k) == "language" for k in changed)
    assert any("q_proj" in k for k in changed)
    handle = backend.load(tuned)
    assert isinstance(handle, ChatModel)
    assert handle.processor.chat_template == K.LLAVA_TEMPLATE
    assert handle.option_logprobs([ChatPrompt("which dish is this", [K.image()])],
                                  [["rice", "tea"]])[0][0] < 0  # fmt: skip
    backend.unload(handle)
    assert handle.model is None


@pytest.mark.parametrize("b", [0.0, 0.3, 1.0])
def test_adapter_at_scale_b_is_the_linear_merge(lora_run, tmp_path, b):
    from regionadapt.merge import merge_checkpoints

    backend, base, tuned, _ = lora_run
    merged = tmp_path / "merged"
    merge_checkpoints("linear", [tuned, base], merged, weights=[b, 1 - b],
                      files=backend.mergeable_files(tuned))  # fmt: skip
    lin = backend.load(merged)
    interp = backend.interpolate(base, tuned, b)
    assert interp is not None
    sd_lin, sd_int = lin.model.state_dict(), interp.model.state_dict()
    assert set(sd_lin) == set(sd_int)
    for k in sd_lin:
        assert torch.allclose(sd_lin[k], sd_int[k], atol=1e-6), k
    prompt = [ChatPrompt("which dish is this", [K.image((60, 180, 60))])]
    opts = [["som tam", "rice", "batik cloth"]]
    assert interp.option_logprobs(prompt, opts)[0] == pytest.approx(
        lin.option_logprobs(prompt, opts)[0], abs=1e-5
    )


@pytest.mark.parametrize("family", K.FAMILIES)
def test_trained_projector_survives_export_and_reload(tmp_path, family):
    from transformers import AutoModelForImageTextToText

    backend, base, tuned, summary = _tune(tmp_path, family, max_steps=2, lr=1e-2,
                                          train_projector=True)  # fmt: skip
    b, t = _weights(base), _weights(tuned)
    proj = [k for k in b if part_of(k) == "projector"]
    assert proj and all(not torch.equal(b[k], t[k]) for k in proj if k.endswith("weight"))
    assert all(torch.equal(b[k], t[k]) for k in b if part_of(k) == "vision")
    reloaded = AutoModelForImageTextToText.from_pretrained(tuned).state_dict()
    for k, v in t.items():
        if k in reloaded:
            assert torch.equal(reloaded[k], v), k
    # projector trained beside the adapter: the adapter alone is not the delta
    assert json.loads((tuned.parent / ADAPTER_DIR / "regionadapt_adapter.json").read_text()) == {
        "exact": False
    }
    assert backend.interpolate(base, tuned, 0.5) is None


def test_full_tuning_trains_the_language_model_only(tmp_path):
    backend, base, tuned, summary = _tune(tmp_path, method="full", max_steps=2, lr=1e-3)
    b, t = _weights(base), _weights(tuned)
    changed = {k for k in b if not torch.equal(b[k], t[k])}
    assert changed and {part_of(k) for k in changed} == {"language"}
    assert not (tuned.parent / ADAPTER_DIR).exists()
    assert backend.interpolate(base, tuned, 0.5) is None


def test_resume_after_a_kill_gives_the_same_model(tmp_path):
    torch.set_num_threads(1)
    src = K.build("llava", tmp_path / "src")
    data = K.tiny_train_data(tmp_path)
    params = TuneParams(**{**K.tiny_tune_params(), "max_steps": 4, "checkpoint_every": 2})

    def run(state_dir, on_step=None):
        model, proc = M.load_model(src), M.load_processor(src)
        net, summary = train_chat(model, proc, data, params, lambda m: None,
                                  state_dir=state_dir, on_step=on_step)  # fmt: skip
        return net.merge_and_unload().state_dict(), summary

    ref, _ = run(None)

    def kill(net, step):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "state", kill)
    assert json.loads((tmp_path / "state" / "latest.json").read_text())["step"] == 2
    resumed, summary = run(tmp_path / "state")
    assert summary["resumed_at"] == 2
    for k in ref:
        assert torch.allclose(ref[k], resumed[k], atol=1e-6), k


def test_recognises_chat_vlms_only(tmp_path):
    folder = K.build_llava(tmp_path / "m")
    assert TransformersChatBackend.recognises(str(folder))
    assert TransformersChatBackend.recognises("Qwen/Qwen2-VL-2B-Instruct")
    assert TransformersChatBackend.recognises("google/gemma-3-4b-it")
    assert not TransformersChatBackend.recognises("stabilityai/stable-diffusion-xl-base-1.0")
    assert not TransformersChatBackend.recognises(str(tmp_path))


def test_trainable_tokens_are_fused_into_the_exported_embeddings(tmp_path):
    backend, base, tuned, summary = _tune(tmp_path, max_steps=2, lr=1e-2,
                                          trainable_tokens="new")  # fmt: skip
    assert summary["trainable_tokens"] > 0
    b, t = _weights(base), _weights(tuned)
    key = next(k for k in b if k.endswith("embed_tokens.weight"))
    changed = (b[key] != t[key]).any(dim=1).nonzero().flatten().tolist()
    # only rows of tokens that occur in the training answers moved
    assert 0 < len(changed) <= summary["trainable_tokens"]
    assert backend.interpolate(base, tuned, 0.5) is None  # the adapter is not the whole delta


def test_tune_state_lives_in_the_run_and_is_removed_when_done(tmp_path):
    from types import SimpleNamespace

    torch.set_num_threads(1)
    backend = TransformersChatBackend()
    ctx = make_ctx(tmp_path)
    ctx.run = SimpleNamespace(root=tmp_path / "run")
    src = K.build("llava", tmp_path / "src")
    base = tmp_path / "tune" / "base"
    backend.prepare_base(ctx, ModelParams(model=str(src)), base)
    params = TuneParams(**{**K.tiny_tune_params(), "max_steps": 3, "checkpoint_every": 1})
    data = K.tiny_train_data(tmp_path)
    state = backend._state_dir(ctx, params, base, data)
    assert state.parent == tmp_path / "run" / "tune-state"
    seen = []
    orig = backend._state_dir
    backend._state_dir = lambda *a: seen.append(orig(*a)) or seen[-1]
    backend.tune(ctx, params, base, data, tmp_path / "tune" / "tuned")
    assert seen == [state] and not state.exists()  # used, then cleaned
    other = K.build("gemma3", tmp_path / "other")  # another base: another key
    assert orig(ctx, params, other, data) != state

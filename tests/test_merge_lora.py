"""LoRA fusing and adapter merging against peft (merge_and_unload, add_weighted_adapter) on a
tiny real LlamaForCausalLM, with the outputs reloaded through the real loaders."""

from __future__ import annotations

import pytest
import torch

from regionadapt.errors import MergeError
from regionadapt.merge.lora import fuse_adapter, merge_adapters

transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")


def tiny_llama():
    cfg = transformers.LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
    )  # fmt: skip
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(cfg)


def lora(model, seed, r, alpha, targets, rslora=False):
    torch.manual_seed(seed)
    cfg = peft.LoraConfig(
        r=r, lora_alpha=alpha, target_modules=targets, init_lora_weights=False,
        use_rslora=rslora,
    )  # fmt: skip
    return peft.get_peft_model(model, cfg)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("lora")
    base = tiny_llama()
    base.save_pretrained(root / "base", safe_serialization=True)
    a = lora(tiny_llama(), 1, 4, 8, ["q_proj", "v_proj"])
    a.save_pretrained(root / "ad_a")
    b = lora(tiny_llama(), 2, 2, 4, ["q_proj", "down_proj", "embed_tokens"], rslora=True)
    b.save_pretrained(root / "ad_b")
    return root


def state_of(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same(loaded, reference):
    assert set(loaded) == set(reference)
    for k in reference:
        torch.testing.assert_close(loaded[k], reference[k], rtol=1e-5, atol=1e-6, msg=k)


@pytest.mark.parametrize("adapter,scale", [("ad_a", 1.0), ("ad_b", 1.0), ("ad_a", 0.5)])
def test_fuse_matches_peft_merge_and_unload(setup, tmp_path, adapter, scale):
    out = tmp_path / "fused"
    report = fuse_adapter(setup / "base", setup / adapter, out, scale=scale)
    assert report.files == ["model.safetensors"]
    model = peft.PeftModel.from_pretrained(
        transformers.LlamaForCausalLM.from_pretrained(setup / "base"), setup / adapter
    )
    if scale != 1.0:
        for mod in model.modules():
            if isinstance(mod, peft.tuners.lora.LoraLayer):
                mod.scale_layer(scale)
    reference = state_of(model.merge_and_unload())
    loaded = transformers.LlamaForCausalLM.from_pretrained(out)  # the real loader
    assert_same(state_of(loaded), reference)
    assert not torch.equal(
        reference["model.layers.0.self_attn.q_proj.weight"],
        state_of(transformers.LlamaForCausalLM.from_pretrained(setup / "base"))[
            "model.layers.0.self_attn.q_proj.weight"
        ],
    )


def test_merged_adapters_match_peft_cat(setup, tmp_path):
    weights = [0.7, 0.4]
    merged = merge_adapters([setup / "ad_a", setup / "ad_b"], tmp_path / "merged", weights)
    fuse_adapter(setup / "base", merged, tmp_path / "fused")

    model = peft.PeftModel.from_pretrained(
        transformers.LlamaForCausalLM.from_pretrained(setup / "base"), setup / "ad_a",
        adapter_name="a",
    )  # fmt: skip
    model.load_adapter(setup / "ad_b", adapter_name="b")
    model.add_weighted_adapter(["a", "b"], weights, "ab", combination_type="cat")
    model.set_adapter("ab")
    for name in ("a", "b"):
        model.delete_adapter(name)
    reference = state_of(model.merge_and_unload())
    assert_same(
        state_of(transformers.LlamaForCausalLM.from_pretrained(tmp_path / "fused")), reference
    )

    # our merged adapter also loads with peft and gives the same model
    again = peft.PeftModel.from_pretrained(
        transformers.LlamaForCausalLM.from_pretrained(setup / "base"), merged
    ).merge_and_unload()
    assert_same(state_of(again), reference)


def test_bad_adapters(setup, tmp_path):
    with pytest.raises(MergeError, match="not a peft adapter folder"):
        fuse_adapter(setup / "base", tmp_path, tmp_path / "out")
    with pytest.raises(MergeError, match=r"1 weight\(s\) for 2 adapter\(s\)"):
        merge_adapters([setup / "ad_a", setup / "ad_b"], tmp_path / "m", [1.0])
    # an adapter for another architecture: the module is named
    other = tmp_path / "other"
    other.mkdir()
    (other / "adapter_config.json").write_text((setup / "ad_a" / "adapter_config.json").read_text())
    from safetensors.torch import save_file

    save_file(
        {
            "base_model.model.encoder.fc.lora_A.weight": torch.zeros(4, 32),
            "base_model.model.encoder.fc.lora_B.weight": torch.zeros(32, 4),
        },
        str(other / "adapter_model.safetensors"),
    )
    with pytest.raises(MergeError, match="adapted module 'encoder.fc' has no weight"):
        fuse_adapter(setup / "base", other, tmp_path / "out")
    assert not (tmp_path / "out").exists()

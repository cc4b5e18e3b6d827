"""Merging tiny real checkpoints of each architecture and loading the result with the real
loaders: transformers (config + tokenizer/processor carried over, sharded), an open_clip state
dict, and a diffusers pipeline folder where only the UNet is merged."""

from __future__ import annotations

import json

import pytest
import torch

from regionadapt.merge import merge_checkpoints


def params_of(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_transformers_llama_sharded_with_tokenizer(tmp_path):
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {w: i for i, w in enumerate(["<unk>", "<s>", "</s>", "nasi", "goreng", "pho"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )
    cfg = transformers.LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
    )  # fmt: skip
    states = []
    for name, seed in (("tuned", 1), ("base", 2)):
        torch.manual_seed(seed)
        model = transformers.LlamaForCausalLM(cfg)
        model.save_pretrained(tmp_path / name, safe_serialization=True, max_shard_size="40KB")
        fast.save_pretrained(tmp_path / name)
        states.append(params_of(model))
    assert (tmp_path / "tuned" / "model.safetensors.index.json").exists()
    out = tmp_path / "merged"
    b = 0.1
    report = merge_checkpoints(
        "linear", [tmp_path / "tuned", tmp_path / "base"], out, weights=[b, 1 - b],
        max_shard_bytes=30_000,
    )  # fmt: skip
    assert len(report.files) > 2 and "model.safetensors.index.json" in report.files
    merged = transformers.AutoModelForCausalLM.from_pretrained(out)
    for k, v in params_of(merged).items():
        torch.testing.assert_close(v, torch.lerp(states[1][k], states[0][k], b), msg=k)
    tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    assert tokenizer("nasi goreng")["input_ids"][-2:] == [3, 4]
    assert json.loads((out / "config.json").read_text())["hidden_size"] == 32


def test_transformers_clip_with_processor(tmp_path):
    transformers = pytest.importorskip("transformers")
    cfg = transformers.CLIPConfig(
        text_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "vocab_size": 50, "max_position_embeddings": 16},
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
        projection_dim=8,
    )  # fmt: skip
    states = []
    for name, seed in (("a", 1), ("b", 2)):
        torch.manual_seed(seed)
        model = transformers.CLIPModel(cfg)
        model.save_pretrained(tmp_path / name, safe_serialization=True)
        transformers.CLIPImageProcessor(size={"shortest_edge": 32}).save_pretrained(tmp_path / name)
        states.append(params_of(model))
    out = tmp_path / "merged"
    merge_checkpoints("linear", [tmp_path / "a", tmp_path / "b"], out, weights=[0.75, 0.25])
    merged = params_of(transformers.CLIPModel.from_pretrained(out))
    for k, v in merged.items():
        torch.testing.assert_close(v, torch.lerp(states[1][k], states[0][k], 0.75), msg=k)
    proc = transformers.CLIPImageProcessor.from_pretrained(out)
    assert proc.size["shortest_edge"] == 32


def test_open_clip_state_dict(tmp_path):
    open_clip = pytest.importorskip("open_clip")
    from safetensors.torch import load_file, save_file

    def build(seed):
        torch.manual_seed(seed)
        vision = open_clip.model.CLIPVisionCfg(
            layers=1, width=16, patch_size=8, image_size=32, head_width=8
        )
        text = open_clip.model.CLIPTextCfg(
            context_length=8, vocab_size=50, width=16, heads=2, layers=1
        )
        return open_clip.model.CLIP(embed_dim=8, vision_cfg=vision, text_cfg=text)

    states = []
    for name, seed in (("tuned", 1), ("base", 2)):
        sd = {k: v.contiguous().clone() for k, v in build(seed).state_dict().items()}
        (tmp_path / name).mkdir()
        save_file(sd, str(tmp_path / name / "open_clip_model.safetensors"))
        states.append(sd)
    out = tmp_path / "merged"
    merge_checkpoints(
        "ties", [tmp_path / "tuned"], out, base=tmp_path / "base", params={"density": 0.5},
        dtype="bfloat16",
    )  # fmt: skip
    model = build(3)
    model.load_state_dict(load_file(str(out / "open_clip_model.safetensors")))  # strict
    sd = load_file(str(out / "open_clip_model.safetensors"))
    assert all(v.dtype == torch.bfloat16 for v in sd.values() if v.is_floating_point())
    # one model's TIES at density 0.5: half of each task vector's entries are kept
    k = "visual.conv1.weight"
    kept = (sd[k].float() != states[1][k].bfloat16().float()).float().mean().item()
    assert 0.35 < kept <= 0.5


def test_diffusers_pipeline_merges_unet_only(tmp_path):
    diffusers = pytest.importorskip("diffusers")
    transformers = pytest.importorskip("transformers")

    tok_dir = tmp_path / "tok"
    tok_dir.mkdir()
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, "a</w>": 2, "!": 3}
    (tok_dir / "vocab.json").write_text(json.dumps(vocab))
    (tok_dir / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = transformers.CLIPTokenizer(str(tok_dir / "vocab.json"), str(tok_dir / "merges.txt"))

    def pipeline(unet_seed):
        torch.manual_seed(0)
        vae = diffusers.AutoencoderKL(
            block_out_channels=(8,), norm_num_groups=8, latent_channels=4,
            down_block_types=("DownEncoderBlock2D",), up_block_types=("UpDecoderBlock2D",),
        )  # fmt: skip
        text = transformers.CLIPTextModel(
            transformers.CLIPTextConfig(
                hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                vocab_size=8, max_position_embeddings=16,
            )
        )  # fmt: skip
        torch.manual_seed(unet_seed)
        unet = diffusers.UNet2DConditionModel(
            sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
            block_out_channels=(8, 16), norm_num_groups=8, cross_attention_dim=16,
            attention_head_dim=2,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        )  # fmt: skip
        return diffusers.StableDiffusionPipeline(
            vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
            scheduler=diffusers.DDIMScheduler(), safety_checker=None, feature_extractor=None,
            requires_safety_checker=False,
        )  # fmt: skip

    pipes = {"tuned": pipeline(1), "base": pipeline(2)}
    for name, pipe in pipes.items():
        pipe.save_pretrained(tmp_path / name, safe_serialization=True)
    out = tmp_path / "merged"
    merge_checkpoints(
        "linear", [tmp_path / "tuned", tmp_path / "base"], out, weights=[0.25, 0.75],
        files=["unet/diffusion_pytorch_model.safetensors"],
    )  # fmt: skip
    merged = diffusers.DiffusionPipeline.from_pretrained(out)
    unet_t, unet_b = params_of(pipes["tuned"].unet), params_of(pipes["base"].unet)
    for k, v in params_of(merged.unet).items():
        torch.testing.assert_close(v, torch.lerp(unet_b[k], unet_t[k], 0.25), msg=k)
    vae_t = params_of(pipes["tuned"].vae)
    for k, v in params_of(merged.vae).items():
        assert torch.equal(v, vae_t[k]), k
    assert merged.tokenizer.get_vocab()["a</w>"] == 2

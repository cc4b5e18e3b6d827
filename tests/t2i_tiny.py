"""Tiny Stable Diffusion 1.x and SDXL pipelines built in code (no downloads), for the t2i tests.

Every component is the real diffusers/transformers class at a toy size: a two-level
``UNet2DConditionModel``, a one- or two-block ``AutoencoderKL``, 2-layer ``CLIPTextModel``(s)
and a byte-level ``CLIPTokenizer`` built offline from a generated vocabulary. Pipelines are
saved with ``save_pretrained`` and the tests load them back through the backend's own loader
(``DiffusionPipeline.from_pretrained`` on the folder), the code path a hub id takes too.

The lead's backend contract test calls :func:`tiny_base`, :func:`tiny_train_data` and
:func:`tiny_tune_params`.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

HIDDEN = 16


def _byte_chars() -> list[str]:
    """GPT-2/CLIP's reversible map of the 256 bytes to printable characters."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    keep += range(ord("®"), ord("ÿ") + 1)
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return [out[b] for b in range(256)]


def byte_vocab() -> tuple[dict[str, int], list[str]]:
    """A CLIP BPE vocabulary over bytes only (every text tokenises, any script) + a few merges."""
    chars = _byte_chars()
    vocab: dict[str, int] = {}
    for c in chars:
        vocab[c] = len(vocab)
    for c in chars:
        vocab[c + "</w>"] = len(vocab)
    merges = ["o n</w>", "r e", "t h", "a n"]
    for m in merges:
        vocab["".join(m.split())] = len(vocab)
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    return vocab, merges


def tokenizer(max_length: int = 24):
    from transformers import CLIPTokenizer

    vocab, merges = byte_vocab()
    tok = CLIPTokenizer(vocab=vocab, merges=[tuple(m.split()) for m in merges])
    tok.model_max_length = max_length
    return tok


def _text_config(vocab_size: int, projection: int, max_length: int):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=HIDDEN,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=max_length,
        projection_dim=projection,
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
    )


def _vae(blocks: int = 1):
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * blocks,
        up_block_types=("UpDecoderBlock2D",) * blocks,
        block_out_channels=(8,) * blocks,
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=16,
    )


def _unet(cross_dim: int, sample_size: int, **extra):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=sample_size,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        block_out_channels=(8, 16),
        layers_per_block=1,
        cross_attention_dim=cross_dim,
        attention_head_dim=4,
        norm_num_groups=4,
        **extra,
    )


def _scheduler(prediction_type: str):
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        num_train_timesteps=100,
        beta_schedule="scaled_linear",
        prediction_type=prediction_type,
        timestep_spacing="trailing",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def sd_pipeline(prediction_type: str = "epsilon", vae_blocks: int = 1, seed: int = 0):
    """A tiny StableDiffusionPipeline (16 px images with a 1-block VAE)."""
    import torch
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTextModel

    torch.manual_seed(seed)
    tok = tokenizer()
    text = CLIPTextModel(_text_config(len(tok), HIDDEN, tok.model_max_length))
    vae = _vae(vae_blocks)
    unet = _unet(HIDDEN, 16 // 2 ** (vae_blocks - 1))
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text,
        tokenizer=tok,
        unet=unet,
        scheduler=_scheduler(prediction_type),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def sdxl_pipeline(prediction_type: str = "epsilon", seed: int = 0):
    """A tiny StableDiffusionXLPipeline: two text encoders, text_time added conditioning."""
    import torch
    from diffusers import StableDiffusionXLPipeline
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    tok, tok2 = tokenizer(), tokenizer()
    text = CLIPTextModel(_text_config(len(tok), HIDDEN, tok.model_max_length))
    text2 = CLIPTextModelWithProjection(_text_config(len(tok2), HIDDEN, tok2.model_max_length))
    time_dim = 4
    unet = _unet(
        2 * HIDDEN,
        16,
        addition_embed_type="text_time",
        addition_time_embed_dim=time_dim,
        projection_class_embeddings_input_dim=6 * time_dim + HIDDEN,
    )
    return StableDiffusionXLPipeline(
        vae=_vae(1),
        text_encoder=text,
        text_encoder_2=text2,
        tokenizer=tok,
        tokenizer_2=tok2,
        unet=unet,
        scheduler=_scheduler(prediction_type),
        force_zeros_for_empty_prompt=True,
    )


def save_pipeline(pipe, folder: Path) -> Path:
    folder = Path(folder)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def png(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


COLOURS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220)}


def sample_rows(n: int, size: int = 16, seed: int = 0) -> list[dict]:
    """Noisy coloured squares captioned with their colour, as sample-collection rows."""
    from regionadapt.samples import new_sample

    rng = np.random.default_rng(seed)
    names = list(COLOURS)
    rows = []
    for i in range(n):
        name = names[i % len(names)]
        base = np.zeros((size, size, 3), np.int16) + np.array(COLOURS[name], np.int16)
        noisy = np.clip(base + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8)
        rows.append(new_sample(id=f"t{i}", image=png(noisy), text=f"a {name} square", lang="eng"))
    return rows


def save_rows(rows: list[dict], folder: Path) -> Path:
    import datasets

    from regionadapt.samples import features

    datasets.Dataset.from_list(rows, features=features()).save_to_disk(str(folder))
    return Path(folder)


# -- the kit the backend contract test calls -------------------------------------------------


def tiny_base(tmp_path: Path, kind: str = "sd") -> dict:
    """ModelParams values for a tiny pipeline saved under ``tmp_path``."""
    pipe = sd_pipeline() if kind == "sd" else sdxl_pipeline()
    folder = save_pipeline(pipe, Path(tmp_path) / f"tiny-{kind}-pipeline")
    return {"model": str(folder), "num_inference_steps": 2, "guidance_scale": 2.0}


def tiny_train_data(tmp_path: Path, n: int = 6) -> Path:
    """A saved sample collection (datasets ``save_to_disk``) of 16 px captioned images."""
    return save_rows(sample_rows(n), Path(tmp_path) / "tiny-t2i-train")


def tiny_tune_params(**over) -> dict:
    """TuneParams values for a one/two-step LoRA tune on the tiny pipeline."""
    values = {
        "method": "lora",
        "batch_size": 3,
        "epochs": 1,
        "max_steps": 2,
        "lr": 1e-2,
        "lora_r": 2,
        "lora_alpha": 2,
        "checkpoint_every": 0,
    }
    values.update(over)
    return values


def probe(handle):
    """The UNet's output on a fixed input: changes with any UNet weight (contract test)."""
    import torch

    unet = handle.pipe.unet
    gen = torch.Generator().manual_seed(0)
    size = unet.config.sample_size
    latents = torch.randn((1, unet.config.in_channels, size, size), generator=gen)
    hidden = torch.randn((1, 4, unet.config.cross_attention_dim), generator=gen)
    extra = {}
    if unet.config.addition_embed_type == "text_time":
        pooled = (
            unet.config.projection_class_embeddings_input_dim
            - 6 * unet.config.addition_time_embed_dim
        )
        extra["added_cond_kwargs"] = {
            "text_embeds": torch.randn((1, pooled), generator=gen),
            "time_ids": torch.tensor([[16.0, 16.0, 0.0, 0.0, 16.0, 16.0]]),
        }
    with torch.no_grad():
        dtype = unet.dtype
        out = unet(
            latents.to(unet.device, dtype),
            torch.tensor([10]),
            hidden.to(unet.device, dtype),
            **extra,
        )
    return out.sample.float().cpu()

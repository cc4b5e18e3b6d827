"""The demo world's text-to-image base: a small diffusers pipeline pretrained on the global part.

Built in code and cached like the embedding base (first run builds it, later runs reuse it):
a byte-level CLIP tokenizer (any script tokenises), a 2-layer ``CLIPTextModel`` trained
jointly with a ~1M-parameter ``UNet2DConditionModel`` (channels 16/32/64, attention at the
two lowest levels), a small near-identity ``AutoencoderKL`` (no downsampling: pixel-space-like;
trained first, as a plain autoencoder on random 16x16 crops of generic pictures of random
shape / colour / pattern / mark combinations, the way a real VAE is trained on broad data, so
it reconstructs regional pictures as well as global ones), clean-image ("sample") prediction and DDIM with trailing
timesteps. These settings come from docs/performance.md ("Demo-world feasibility"): epsilon
prediction with a frozen random text encoder stayed at chance in the same time.

The base never sees a regional concept: adapting it on the pack's regional samples is the
demo's job. During that tune (the diffusers backend) only the UNet trains.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from regionadapt.progress import log
from regionadapt.rundir import hash_json

# 2: the VAE trains 600 steps (150 left it too blurry to tell concepts apart).
# 3: the VAE has 16 channels, trains deterministically on generic pictures of every primitive
#    (trained on global pictures only, its round trip cut the judge's regional top-1 to 0.32)
#    and its posterior variance is pinned to ~0 (a tune samples latents from it). Held-out
#    MSE sits on a plateau (~0.024) until ~400 steps, then drops to ~0.004 by 600.
# 4: the VAE trains on random 16x16 crops (it is convolutional with no downsampling, so a crop
#    teaches it the same map at a quarter of the cost): held-out full-size MSE 0.0033 after 600
#    steps, as full-size training (~0.003-0.004).
# 5: cross-attention at the 16x16 level too (global R-precision of the base 0.18 -> 0.47).
T2I_VERSION = 5
RESOLUTION = 32
MAX_TOKENS = 48
HIDDEN = 64
# 10 DDIM steps: the base's R-precision by the judge was the same as with 20 (global 0.181 both,
# regional 0.014 both, 72 prompts each) at half the cost; guidance 1.5 / 6 / 9 gave 0.19 / 0.11
# / 0.11 (docs/t2i.md).
GENERATION = {"resolution": RESOLUTION, "num_inference_steps": 10, "guidance_scale": 3.0}
# Measured on this machine (1 thread): see docs/t2i.md. Steps are the budget knob; the VAE
# at 150 steps was too blurry for the judge to tell concepts apart (docs/t2i.md). 800 steps drew
# the everyday things recognisably 0.43 of the time and 2000 steps 0.84, and a tune learnt the
# regional ones only on a strong base (regional 0.49 on the 1800-step base, 0.15 on a 1500-step
# one). 1800 steps take ~650 s.
PRETRAIN = {"steps": 1800, "batch_size": 32, "lr": 2e-3, "warmup": 40, "uncond": 0.1,
            "vae_steps": 600, "vae_lr": 5e-3, "vae_channels": 16, "vae_pictures": 3840, "vae_crop": 16,
            "per_concept": 80}  # fmt: skip
# A stronger (or quicker) base for experiments: the pretraining steps, ~0.35 s each on 2 cores.
# The default keeps the demo inside its time budget; a changed value is cached apart.
STEPS_ENV = "REGIONADAPT_DEMO_T2I_PRETRAIN_STEPS"


def pretrain_config() -> dict:
    """PRETRAIN, with its steps from $REGIONADAPT_DEMO_T2I_PRETRAIN_STEPS when that is set."""
    raw = os.environ.get(STEPS_ENV, "").strip()
    if not raw:
        return dict(PRETRAIN)
    try:
        steps = int(raw)
    except ValueError:
        steps = 0
    if steps < PRETRAIN["warmup"] + 1:
        raise ValueError(f"${STEPS_ENV}={raw!r}: expected a whole number of pretraining steps "
                         f"above the warm-up's {PRETRAIN['warmup']}")  # fmt: skip
    return {**PRETRAIN, "steps": steps}


def byte_chars() -> list[str]:
    """GPT-2/CLIP's reversible map of the 256 bytes to printable characters."""
    keep = {*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)}
    keep |= set(range(ord("®"), ord("ÿ") + 1))
    out, extra = [], 0
    for b in range(256):
        if b in keep:
            out.append(chr(b))
        else:
            out.append(chr(256 + extra))
            extra += 1
    return out


def tokenizer():
    """A CLIPTokenizer over bytes (no merges): every script tokenises, nothing downloads."""
    from transformers import CLIPTokenizer

    chars = byte_chars()
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": 256 + i for i, c in enumerate(chars)})
    vocab["<|startoftext|>"], vocab["<|endoftext|>"] = 512, 513
    tok = CLIPTokenizer(vocab=vocab, merges=[])
    tok.model_max_length = MAX_TOKENS
    return tok


def build_pipeline(seed: int = 0, vae_channels: int = PRETRAIN["vae_channels"]):
    """The untrained pipeline (random weights)."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    tok = tokenizer()
    text = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tok), hidden_size=HIDDEN, intermediate_size=2 * HIDDEN,
        num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=MAX_TOKENS,
        projection_dim=HIDDEN, bos_token_id=512, eos_token_id=513, pad_token_id=513,
    ))  # fmt: skip
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",),
        up_block_types=("UpDecoderBlock2D",), block_out_channels=(vae_channels,), layers_per_block=1,
        latent_channels=4, norm_num_groups=4, sample_size=RESOLUTION,
        mid_block_add_attention=False,  # attention over 32x32 positions costs most of a step
    )  # fmt: skip
    unet = UNet2DConditionModel(
        sample_size=RESOLUTION, in_channels=4, out_channels=4,
        # cross-attention at the two lowest levels (16x16 and 8x8): with it at 8x8 only, the
        # pictures followed the noise seed more than the prompt (v4: global R-precision 0.18;
        # this: 0.47, 72 prompts, same 800 steps)
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        block_out_channels=(16, 32, 64), layers_per_block=1, cross_attention_dim=HIDDEN,
        attention_head_dim=8, norm_num_groups=8,
    )  # fmt: skip
    sched = DDIMScheduler(
        num_train_timesteps=1000, beta_schedule="scaled_linear", prediction_type="sample",
        timestep_spacing="trailing", clip_sample=False, set_alpha_to_one=False, steps_offset=1,
    )  # fmt: skip
    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text, tokenizer=tok, unet=unet, scheduler=sched,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _pixels(rows: list[dict]):
    import io

    import numpy as np
    import torch
    from PIL import Image

    arr = np.stack([np.asarray(Image.open(io.BytesIO(r["image"])).convert("RGB")) for r in rows])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def generic_pictures(n: int, seed: int):
    """``n`` pictures of random (shape, colour, pattern, mark) combinations drawn uniformly over
    every combination the world's renderer knows: broad data for the VAE, chosen without
    looking at which combinations are global or regional concepts."""
    import numpy as np
    import torch

    from regionadapt_plugins.demo_world.concepts import _all_signatures
    from regionadapt_plugins.demo_world.render import draw

    rng = np.random.default_rng(seed)
    sigs = _all_signatures()
    arr = np.stack([np.asarray(draw(sigs[int(i)], rng, RESOLUTION).convert("RGB"))
                    for i in rng.integers(0, len(sigs), n)])  # fmt: skip
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def train_vae(
    vae, pixels, steps: int, seed: int, lr: float = 2e-3, crop: int | None = None
) -> float:
    """Reconstruction training of the tiny VAE as a deterministic autoencoder (the latent mean
    is decoded), then its posterior log-variance pinned at diffusers' floor (-30): sampling a
    latent (as a tune does) gives the mean, the same latents the UNet was pretrained on.
    Sets scaling_factor so latents have unit std. ``crop``: train on a random crop of that side
    per batch (the VAE is fully convolutional at one resolution, so it learns the same map)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(vae.parameters(), lr=lr)
    vae.train()
    loss = torch.tensor(float("nan"))
    side = pixels.shape[-1]
    for _ in range(steps):
        x = pixels[torch.randint(0, len(pixels), (64,), generator=gen)]
        if crop and crop < side:
            i, j = torch.randint(0, side - crop + 1, (2,), generator=gen).tolist()
            x = x[:, :, i : i + crop, j : j + crop]
        recon = vae.decode(vae.encode(x).latent_dist.mean).sample
        loss = torch.nn.functional.mse_loss(recon, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    vae.eval()
    latent = vae.config.latent_channels
    with torch.no_grad():
        vae.quant_conv.weight[latent:].zero_()  # the moments' log-variance half
        vae.quant_conv.bias[latent:].fill_(-30.0)
        std = torch.cat([vae.encode(pixels[i : i + 256]).latent_dist.mean
                         for i in range(0, len(pixels), 256)]).std()  # fmt: skip
    vae.register_to_config(scaling_factor=float(1.0 / std))
    vae.requires_grad_(False)
    return float(loss.detach())


def pretrain(pipe, rows: list[dict], cfg: dict, seed: int) -> dict:
    """VAE first, then UNet + text encoder jointly on clean-image prediction, with the empty
    caption in ``uncond`` of the batches so classifier-free guidance works."""
    import torch

    t0 = time.perf_counter()
    pixels = _pixels(rows)
    generic = generic_pictures(cfg["vae_pictures"], seed + 2)
    vae_loss = train_vae(pipe.vae, generic, cfg["vae_steps"], seed, cfg["vae_lr"],
                         cfg.get("vae_crop"))  # fmt: skip
    with torch.no_grad():  # full-size pictures it never trained on
        held = generic_pictures(256, seed + 3)
        recon = pipe.vae.decode(pipe.vae.encode(held).latent_dist.mean).sample
        vae_held = float(torch.nn.functional.mse_loss(recon, held))
    log(f"demo t2i base: VAE trained {cfg['vae_steps']} steps, reconstruction MSE {vae_loss:.4f} "
        f"(held-out full-size pictures: {vae_held:.4f})")  # fmt: skip
    with torch.no_grad():
        latents = torch.cat([pipe.vae.encode(pixels[i : i + 256]).latent_dist.mean
                             for i in range(0, len(pixels), 256)]) * pipe.vae.config.scaling_factor  # fmt: skip
    tok = pipe.tokenizer
    ids = tok([r["text"] for r in rows], padding="max_length", max_length=MAX_TOKENS,
              truncation=True, return_tensors="pt").input_ids  # fmt: skip
    empty = tok([""], padding="max_length", max_length=MAX_TOKENS, return_tensors="pt").input_ids
    unet, text, sched = pipe.unet, pipe.text_encoder, pipe.scheduler
    params = [*unet.parameters(), *text.parameters()]
    opt = torch.optim.AdamW(params, lr=cfg["lr"], weight_decay=0.01)
    steps, warm = cfg["steps"], cfg["warmup"]
    lr_at = lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / steps)  # noqa: E731
    sched_lr = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    gen = torch.Generator().manual_seed(seed + 1)
    unet.train(), text.train()
    losses = []
    for step in range(steps):
        idx = torch.randint(0, len(rows), (cfg["batch_size"],), generator=gen)
        x0, tokens = latents[idx], ids[idx].clone()
        drop = torch.rand(len(idx), generator=gen) < cfg["uncond"]
        tokens[drop] = empty[0]
        noise = torch.randn(x0.shape, generator=gen)
        t = torch.randint(0, sched.config.num_train_timesteps, (len(idx),), generator=gen)
        noisy = sched.add_noise(x0, noise, t)
        pred = unet(noisy, t, encoder_hidden_states=text(tokens)[0]).sample
        loss = torch.nn.functional.mse_loss(pred, x0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched_lr.step()
        losses.append(float(loss.detach()))
        if (step + 1) % 100 == 0:
            log(f"demo t2i base: step {step + 1}/{steps} loss {sum(losses[-100:]) / 100:.4f}")
    unet.eval(), text.eval()
    unet.requires_grad_(False), text.requires_grad_(False)
    return {"steps": steps, "vae_loss": vae_loss, "vae_held_out_mse": vae_held,
            "first_loss": losses[0],
            "last_loss": sum(losses[-50:]) / min(50, len(losses)),
            "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip


def t2i_base(seed: int = 0) -> Path:
    """The cached demo text-to-image base (pipeline folder); built if absent."""
    import json

    from regionadapt_plugins.demo_world.base_model import DEMO_VERSION, cache_root

    cfg = pretrain_config()
    key = hash_json([DEMO_VERSION, T2I_VERSION, cfg, GENERATION, MAX_TOKENS, HIDDEN, seed])
    final = cache_root() / "demo-world" / f"t2i-{key}"
    if (final / "model_index.json").is_file():
        return final
    import torch

    from regionadapt_plugins.demo_world.world import DemoWorld

    torch.set_num_threads(max(1, torch.get_num_threads()))
    log("demo world: pretraining the text-to-image base on the global part (once, cached)")
    world = DemoWorld(pack=None, seed=seed)
    rows = world.global_training_set(cfg["per_concept"])
    pipe = build_pipeline(seed, cfg["vae_channels"])
    summary = pretrain(pipe, rows, cfg, seed)
    tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    pipe.save_pretrained(str(tmp), safe_serialization=True)
    (tmp / "regionadapt_t2i.json").write_text(json.dumps(GENERATION, indent=2) + "\n")
    (tmp / "pretrain.json").write_text(json.dumps(summary, indent=2) + "\n")
    try:
        os.replace(tmp, final)
    except OSError:  # another process finished first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"demo world: t2i base cached at {final} ({summary['seconds']}s)")
    return final

"""UNet fine-tuning (full or LoRA) under ``accelerate``, with checkpoints and resume.

The VAE and text encoders stay frozen and are used once, to fill the latent/text cache
(:mod:`.data`). The training noise comes from the pipeline's own scheduler config (betas,
timestep count, prediction type). Every random draw of step ``k`` (latent sample, noise,
timesteps, offset) comes from a generator seeded by (seed, k), and the batch order of each epoch
from a seeded permutation, so a tune resumed from the checkpoint at step ``k`` continues exactly
as the uninterrupted run would have.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from regionadapt_plugins.diffusers_backend import adapter
from regionadapt_plugins.diffusers_backend import data as D
from regionadapt_plugins.diffusers_backend.params import TuneParams

Log = Callable[[str], None]
TRAINABLE = "trainable.safetensors"
META = "meta.json"


def prepare_unet(pipe: Any, params: TuneParams) -> list[torch.nn.Parameter]:
    """Freeze everything but the UNet's trainable part; trainable weights in fp32."""
    for name in ("vae", "text_encoder", "text_encoder_2"):
        module = getattr(pipe, name, None)
        if module is not None:
            module.requires_grad_(False)
            module.eval()
    unet = pipe.unet
    if params.method == "lora":
        unet.requires_grad_(False)
        if params.precision != "fp32":  # frozen base weights may live in low precision
            unet.to(dtype=torch.bfloat16 if params.precision == "bf16" else torch.float16)
        adapter.attach(
            unet, params.lora_r, params.lora_alpha, params.lora_dropout, params.lora_targets
        )
    else:
        unet.requires_grad_(True)
    trainable = [p for p in unet.parameters() if p.requires_grad]
    for p in trainable:
        p.data = p.data.float()
    if params.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    unet.train()
    return trainable


def linear_schedule(optimizer: torch.optim.Optimizer, warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return float(step) / float(max(1, warmup))
        return max(0.0, float(total - step) / float(max(1, total - warmup)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def snr_weights(alphas_cumprod: torch.Tensor, t: torch.Tensor, gamma: float, kind: str):
    """Min-SNR-gamma loss weights (Hang et al. 2023) for the given prediction target."""
    ac = alphas_cumprod.to(t.device)[t].float()
    snr = ac / (1 - ac)
    clipped = torch.clamp(snr, max=gamma)
    if kind == "epsilon":
        return clipped / snr
    if kind == "v_prediction":
        return clipped / (snr + 1)
    return clipped  # sample (x0) prediction


def step_loss(
    unet: Any, noise_sched: Any, cached: D.Cached, idx: torch.Tensor, step: int,
    params: TuneParams, kind: str, scaling: float, device: torch.device,
) -> torch.Tensor:  # fmt: skip
    """The denoising loss on the batch ``idx``; all randomness from the (seed, step) stream."""
    gen = torch.Generator().manual_seed(params.seed * 1_000_003 + step)
    mean, std = cached.mean[idx], cached.std[idx]
    latents = (mean + std * torch.randn(mean.shape, generator=gen)) * scaling
    noise = torch.randn(latents.shape, generator=gen)
    if params.noise_offset:
        noise = noise + params.noise_offset * torch.randn(
            (latents.shape[0], latents.shape[1], 1, 1), generator=gen
        )
    t = torch.randint(0, noise_sched.config.num_train_timesteps, (len(idx),), generator=gen)
    latents, noise, t = latents.to(device), noise.to(device), t.to(device)
    noisy = noise_sched.add_noise(latents, noise, t)
    if kind == "epsilon":
        target = noise
    elif kind == "v_prediction":
        target = noise_sched.get_velocity(latents, noise, t)
    else:
        target = latents
    cond: dict[str, Any] = {}
    if cached.pooled is not None:
        cond["added_cond_kwargs"] = {
            "text_embeds": cached.pooled[idx].to(device),
            "time_ids": cached.time_ids[idx].to(device),
        }
    pred = unet(noisy, t, encoder_hidden_states=cached.embeds[idx].to(device), **cond).sample
    per = torch.nn.functional.mse_loss(pred.float(), target.float(), reduction="none")
    per = per.mean(dim=list(range(1, per.ndim)))
    if params.snr_gamma is not None:
        per = per * snr_weights(noise_sched.alphas_cumprod, t, params.snr_gamma, kind)
    return per.mean()


def _checkpoints(ckpt_dir: Path, key: str) -> list[tuple[int, Path]]:
    found = []
    for p in ckpt_dir.glob("step-*"):
        meta = p / META
        if meta.is_file() and json.loads(meta.read_text()).get("key") == key:
            found.append((int(json.loads(meta.read_text())["step"]), p))
    return sorted(found)


def _hooks(accelerator: Any, trainable_names: list[str]) -> None:
    """Checkpoint only the trainable UNet weights (a LoRA checkpoint is then megabytes)."""
    from safetensors.torch import load_file, save_file

    def save(models, weights, output_dir):
        for state in weights:  # one prepared model: the UNet
            kept = {k: state[k].detach().cpu().contiguous() for k in trainable_names}
            save_file(kept, str(Path(output_dir) / TRAINABLE))
        weights.clear()  # nothing else for accelerate to save

    def load(models, input_dir):
        state = load_file(str(Path(input_dir) / TRAINABLE))
        for model in models:
            missing = set(trainable_names) - set(state)
            if missing:
                raise RuntimeError(f"{input_dir}: checkpoint lacks {sorted(missing)[:3]}")
            model.load_state_dict(state, strict=False)
        models.clear()

    accelerator.register_save_state_pre_hook(save)
    accelerator.register_load_state_pre_hook(load)


def _save_checkpoint(accelerator, ckpt_dir: Path, step: int, key: str, keep: int) -> None:
    final = ckpt_dir / f"step-{step:08d}"
    tmp = ckpt_dir / f".tmp-step-{step:08d}"
    shutil.rmtree(tmp, ignore_errors=True)
    accelerator.save_state(str(tmp))
    (tmp / META).write_text(json.dumps({"key": key, "step": step}))  # written last: complete
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for _, old in _checkpoints(ckpt_dir, key)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def reset_accelerate_state() -> None:
    # The Accelerator state is a process-wide singleton; a second tune in one process (tests,
    # notebooks) with another precision would otherwise be refused.
    try:
        from accelerate.state import AcceleratorState

        AcceleratorState._reset_state(reset_partial_state=True)
    except Exception:  # pragma: no cover - private API moved: nothing to reset
        pass


def train_unet(
    pipe: Any, cached: D.Cached, params: TuneParams, ckpt_dir: Path, key: str, log: Log = print,
    on_step: Callable[[int], None] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Train ``pipe.unet`` in place on the cached samples; resume from a matching checkpoint.

    With EMA on, the averaged weights are copied into the UNet at the end. ``on_step(step)`` is
    called after every optimizer step (tests kill the process there).
    """
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from diffusers import DDPMScheduler
    from diffusers.training_utils import EMAModel
    from tqdm.auto import tqdm

    t_start = time.perf_counter()
    reset_accelerate_state()
    mixed = {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}[params.precision]
    accelerator = Accelerator(mixed_precision=mixed)
    set_seed(params.seed)
    noise_sched = DDPMScheduler.from_config(pipe.scheduler.config)
    kind = params.prediction_type or noise_sched.config.prediction_type
    trainable = prepare_unet(pipe, params)
    names = [n for n, p in pipe.unet.named_parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in trainable)
    optimizer = torch.optim.AdamW(trainable, lr=params.lr, weight_decay=params.weight_decay)
    per_epoch = -(-len(cached) // params.batch_size)
    steps = per_epoch * params.epochs
    if params.max_steps is not None:
        steps = min(steps, params.max_steps)
    scheduler = linear_schedule(optimizer, int(params.warmup_ratio * steps), steps)
    unet, optimizer = accelerator.prepare(pipe.unet, optimizer)
    accelerator.register_for_checkpointing(scheduler)
    ema = EMAModel(trainable, decay=params.ema_decay) if params.ema else None
    if ema is not None:
        accelerator.register_for_checkpointing(ema)
    _hooks(accelerator, names)
    device = accelerator.device
    scaling = float(pipe.vae.config.scaling_factor)

    step = 0
    ckpt_dir = Path(ckpt_dir)
    found = _checkpoints(ckpt_dir, key) if params.checkpoint_every else []
    if found:
        step, where = found[-1]
        accelerator.load_state(str(where))
        log(f"t2i: resumed from the checkpoint at step {step} ({where})")
    resumed_at = step
    log(
        f"t2i {params.method} tuning: {len(cached)} samples, {steps} steps, batch "
        f"{params.batch_size}, {n_trainable:,} trainable weights, target {kind}, "
        f"{cached.skipped} image(s) skipped"
    )
    losses: list[tuple[int, float]] = []
    bar = tqdm(total=steps, initial=step, desc="tune t2i", unit="step", file=sys.stderr)
    t_train = time.perf_counter()
    while step < steps:
        epoch, pos = divmod(step, per_epoch)
        idx = D.plan_epoch(len(cached), params.batch_size, epoch, params.seed)[pos]
        with accelerator.autocast():
            loss = step_loss(unet, noise_sched, cached, idx, step, params, kind, scaling, device)
        accelerator.backward(loss)
        if params.grad_clip is not None:
            accelerator.clip_grad_norm_(trainable, params.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if ema is not None:
            ema.step(trainable)
        step += 1
        value = float(loss.detach())
        if step == 1 or step == steps or step % params.log_every == 0:
            losses.append((step, value))
            if step % params.log_every == 0:
                log(f"step {step}/{steps} loss {value:.4f}")
        if params.checkpoint_every and step % params.checkpoint_every == 0 and step < steps:
            _save_checkpoint(accelerator, ckpt_dir, step, key, params.keep_checkpoints)
        bar.update(1)
        if on_step is not None:
            on_step(step)
    bar.close()
    train_s = time.perf_counter() - t_train
    pipe.unet = accelerator.unwrap_model(unet)
    if ema is not None:
        ema.copy_to(trainable)
    pipe.unet.eval()
    if kind != pipe.scheduler.config.prediction_type:  # the output samples as it was trained
        pipe.scheduler.register_to_config(prediction_type=kind)
    done = step - resumed_at
    return {
        "method": params.method,
        "steps": step,
        "resumed_at_step": resumed_at,
        "samples": len(cached),
        "skipped_images": cached.skipped,
        "trainable_params": n_trainable,
        "prediction_type": kind,
        "first_loss": losses[0][1] if losses else None,
        "last_loss": losses[-1][1] if losses else None,
        "loss_curve": losses,
        "train_seconds": round(train_s, 3),
        "seconds_per_step": round(train_s / done, 5) if done else None,
        "seconds": round(time.perf_counter() - t_start, 3),
        "precision": params.precision,
        "ema": params.ema,
        "device": str(device),
    }

"""Contrastive fine-tuning of an open_clip model (full or LoRA) under ``accelerate``.

One code path for one process and for N: the loop runs inside whatever ``Accelerator`` the
process gets (CPU, one GPU, or a DDP rank started by :mod:`.distributed`). Under DDP, open_clip's
``ClipLoss`` gathers features *with* gradients from every rank (``gather_with_grad=True``,
``local_loss=True``); without that the gradient is wrong and nothing complains.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from regionadapt_plugins.openclip_backend import data as D
from regionadapt_plugins.openclip_backend.model import EmbeddingModel
from regionadapt_plugins.openclip_backend.params import TuneParams

Log = Callable[[str], None]


def train_contrastive(
    model: EmbeddingModel, dataset: Any, params: TuneParams, log: Log = print, task: str = ""
) -> dict[str, Any]:
    """Fine-tune ``model`` in place on image/text pairs; return a summary of the run.

    ``dataset`` is an HF ``datasets.Dataset`` (or the folder it was saved to) with a ``text``
    column and an ``image`` (encoded bytes) or ``image_path`` column. With ``method="lora"``
    the adapters are fused before returning: ``model.model`` is a plain open_clip model.
    With ``params.processes > 1`` the work runs in that many DDP worker processes.
    ``task`` names the run on screen (default "open_clip <method> tuning"; the demo world's
    base says "demo base pretraining").
    """
    if params.processes > 1:
        from regionadapt_plugins.openclip_backend.distributed import train_in_workers

        return train_in_workers(model, dataset, params, log)
    return run_training(model, dataset, params, log, task=task)


def _is_vision(name: str) -> bool:
    return ".visual." in f".{name}"


def _is_text(name: str) -> bool:
    return not _is_vision(name) and "logit_" not in name


def _no_decay(name: str, p: torch.nn.Parameter) -> bool:
    # open_clip's own training recipe: no weight decay on gains, biases, norms, logit scale.
    return p.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name


def _linear_schedule(optimizer: torch.optim.Optimizer, warmup: int, total: int):
    """Linear warm-up then linear decay to 0 (the same curve as transformers'
    ``get_linear_schedule_with_warmup``, without importing transformers)."""

    def factor(step: int) -> float:
        if step < warmup:
            return float(step) / float(max(1, warmup))
        return max(0.0, float(total - step) / float(max(1, total - warmup)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _prepare_network(model: EmbeddingModel, params: TuneParams) -> torch.nn.Module:
    net = model.model.float()
    if params.method == "lora":
        from peft import LoraConfig, get_peft_model

        config = LoraConfig(
            r=params.lora_r,
            lora_alpha=params.lora_alpha,
            lora_dropout=params.lora_dropout,
            target_modules=list(params.lora_targets),
            bias="none",
        )
        net = get_peft_model(net, config)
    else:
        for p in net.parameters():
            p.requires_grad_(True)
    for name, p in net.named_parameters():
        if (params.freeze_vision and _is_vision(name)) or (params.freeze_text and _is_text(name)):
            p.requires_grad_(False)
    if not any(p.requires_grad for p in net.parameters()):
        raise ValueError(
            f"no trainable parameters (method={params.method!r}, lora_targets="
            f"{params.lora_targets}): check the LoRA target module names"
        )
    return net


def _optimizer(net: torch.nn.Module, params: TuneParams) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for name, p in net.named_parameters():
        if p.requires_grad:
            (no_decay if _no_decay(name, p) else decay).append(p)
    groups = [
        {"params": decay, "weight_decay": params.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    try:
        # fused AdamW: one kernel over all tensors; on 2 CPU cores it is 3-5x faster than the
        # per-tensor loop for a tiny CLIP, whose step is otherwise dominated by the optimizer.
        return torch.optim.AdamW(groups, lr=params.lr, fused=True)
    except (RuntimeError, TypeError, ValueError):  # device/dtype without a fused kernel
        return torch.optim.AdamW(groups, lr=params.lr)


def _reset_accelerate_state() -> None:
    # The Accelerator's state is a process-wide singleton; a second training in the same
    # process (tests, notebooks) with another precision would otherwise be refused.
    try:
        from accelerate.state import AcceleratorState

        AcceleratorState._reset_state(reset_partial_state=True)
    except Exception:  # pragma: no cover - private API moved: nothing to reset
        pass


def run_training(
    model: EmbeddingModel,
    dataset: Any,
    params: TuneParams,
    log: Log = print,
    *,
    grads_out: str | Path | None = None,
    on_step: Callable[[torch.nn.Module, int], None] | None = None,
    task: str = "",
) -> dict[str, Any]:
    """The training loop, in this process, under ``accelerate``.

    For tests and callers that want to look inside: ``grads_out`` makes the main process
    write the first step's gradients (after the DDP all-reduce, before clipping) to this
    safetensors file; ``on_step(net, step)`` is called on the main process with the unwrapped
    network (adapters still separate) before the first step (step 0) and after every step.
    """
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from open_clip.loss import ClipLoss

    from regionadapt.progress import Progress, human, human_duration, verbosity

    t_start = time.perf_counter()
    _reset_accelerate_state()
    accelerator = Accelerator(mixed_precision="bf16" if params.precision == "bf16" else "no")
    world, rank = accelerator.num_processes, accelerator.process_index
    main = accelerator.is_main_process
    say: Log = log if main else (lambda _msg: None)
    set_seed(params.seed)

    ds = D.open_dataset(dataset)
    original_device = model.device
    need = D.preload_bytes(len(ds), model.preprocess_cfg.get("size", 224))
    preloaded = None
    if need <= params.preload_max_mb * 2**20:
        preloaded = D.preload(ds, model.preprocess, model.tokenizer)
        n, skipped = len(preloaded.pixels), preloaded.skipped
    else:
        streaming = D.StreamingImages(ds, model.preprocess)
        collate = D.Collate(model.tokenizer)
        n, skipped = len(ds), 0
    steps, epochs = D.total_steps(n, params.batch_size, world, params.epochs, params.max_steps)
    prepare_s = time.perf_counter() - t_start
    task = task or f"open_clip {params.method} tuning"
    say(
        f"{task}: {n} samples{' (preloaded)' if preloaded is not None else ' (streamed)'}, "
        f"{steps} steps, {epochs} epoch(s), global batch {params.batch_size} on {world} "
        f"process(es), {skipped} image(s) skipped, data ready in {human_duration(prepare_s)}"
    )

    net = _prepare_network(model, params)
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    optimizer = _optimizer(net, params)
    # Not passed to accelerator.prepare: it would step the schedule once per process, while
    # our batch_size is already the global batch.
    scheduler = _linear_schedule(optimizer, int(params.warmup_ratio * steps), steps)
    net, optimizer = accelerator.prepare(net, optimizer)
    net.train()
    loss_fn = ClipLoss(
        local_loss=True,
        gather_with_grad=True,
        cache_labels=True,
        rank=rank,
        world_size=world,
    )
    trainable_params = [p for p in net.parameters() if p.requires_grad]
    device = accelerator.device

    losses: list[tuple[int, float]] = []
    samples = 0
    step = 0
    t_train = time.perf_counter()
    if on_step is not None and main:
        on_step(accelerator.unwrap_model(net), 0)
    # One bar on the main process; a DDP worker's stderr is a pipe, so its plain status lines
    # go through ``say``, which forwards them to the parent.
    bar = Progress(steps if main else 0, task, "step", sink=None if world == 1 else say)
    if not main:
        bar.close()
    for epoch in range(epochs):
        plan = D.plan_epoch(n, params.batch_size, world, rank, epoch, params.seed)
        if preloaded is not None:
            batches = ((preloaded.pixels[idx], preloaded.tokens[idx], 0) for idx in plan)
        else:
            batches = iter(
                torch.utils.data.DataLoader(
                    streaming,
                    batch_sampler=[idx.tolist() for idx in plan],
                    collate_fn=collate,
                    num_workers=params.num_workers,
                )
            )
        for pixels, tokens, bad in batches:
            if step >= steps:
                break
            skipped += bad
            if world > 1 and preloaded is None:  # equal shapes for the feature all-gather
                local = torch.tensor([len(pixels)], device=device)
                torch.distributed.all_reduce(local, op=torch.distributed.ReduceOp.MIN)
                pixels, tokens = pixels[: int(local)], tokens[: int(local)]
            if len(pixels) * world < 2:
                step += 1  # keep every process on the same schedule
                scheduler.step()
                continue
            pixels = pixels.to(device, non_blocking=True)
            tokens = tokens.to(device, non_blocking=True)
            out = net(pixels, tokens)
            image_f, text_f, scale = out[0], out[1], out[2]
            loss = loss_fn(image_f.float(), text_f.float(), scale.float())
            accelerator.backward(loss)
            if grads_out is not None and step == 0 and main:
                _dump_grads(accelerator.unwrap_model(net), Path(grads_out))
            if params.grad_clip is not None:
                accelerator.clip_grad_norm_(trainable_params, params.grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            with torch.no_grad():  # open_clip clamps the temperature the same way
                accelerator.unwrap_model(net).logit_scale.clamp_(0, math.log(100))
            samples += len(pixels) * world
            step += 1
            if on_step is not None and main:
                on_step(accelerator.unwrap_model(net), step)
            shown: dict[str, float] = {}
            if step == 1 or step == steps or step % params.log_every == 0:
                value = float(accelerator.reduce(loss.detach(), reduction="mean"))
                losses.append((step, value))
                shown["loss"] = value
                if step % params.log_every == 0 and verbosity() == "verbose":
                    say(f"{task}: step {step}/{steps}, epoch {epoch + 1}, loss {human(value, 4)}")
            if main:
                bar.update(1, **shown)
    bar.close()
    train_s = time.perf_counter() - t_train

    net = accelerator.unwrap_model(net)
    if params.method == "lora":
        net = net.merge_and_unload()
    net.eval()
    model.model = net.to(original_device)
    if world > 1:
        total_skipped = torch.tensor([skipped], device=device)
        if preloaded is None:  # streamed: each rank saw different images
            torch.distributed.all_reduce(total_skipped)
        skipped = int(total_skipped)
    accelerator.wait_for_everyone()
    summary = {
        "method": params.method,
        "steps": step,
        "epochs": epochs,
        "samples": n,
        "seconds": round(time.perf_counter() - t_start, 3),
        "train_seconds": round(train_s, 3),
        "prepare_seconds": round(prepare_s, 3),
        "first_loss": losses[0][1] if losses else None,
        "last_loss": losses[-1][1] if losses else None,
        "loss_curve": losses,
        "samples_per_s": round(samples / train_s, 2) if train_s > 0 else None,
        "seconds_per_step": round(train_s / step, 5) if step else None,
        "skipped_images": skipped,
        "trainable_params": trainable,
        "num_processes": world,
        "distributed_type": str(accelerator.distributed_type),
        "device": str(device),
        "precision": params.precision,
        "preloaded": preloaded is not None,
    }
    say(
        f"{task}: {step} steps in {human_duration(train_s)} "
        f"({human(summary['samples_per_s'])} samples/s), "
        f"loss {human(summary['first_loss'])} -> {human(summary['last_loss'])}"
    )
    return summary


def _dump_grads(net: torch.nn.Module, path: Path) -> None:
    from safetensors.torch import save_file

    grads = {
        name: p.grad.detach().float().cpu().contiguous()
        for name, p in net.named_parameters()
        if p.requires_grad and p.grad is not None
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(grads, str(path))

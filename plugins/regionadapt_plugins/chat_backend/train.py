"""Supervised fine-tuning of a chat VLM on assistant tokens only, under ``accelerate``.

LoRA (peft) on the language model's linear layers by default, the vision tower frozen; options
train the projector and/or the vision tower fully, or the whole language model. The batch plan
is a seeded permutation per epoch, so a run resumed from an ``accelerate`` checkpoint sees
exactly the batches the killed run would have seen next.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from regionadapt.errors import StageError
from regionadapt_plugins.chat_backend import data as D
from regionadapt_plugins.chat_backend.params import TuneParams

Log = Callable[[str], None]
PROJECTOR_KEYS = ("multi_modal_projector", "visual.merger", "mm_projector")
VISION_KEYS = ("vision_tower", "visual.", "vision_model")


def part_of(name: str) -> str:
    """'projector', 'vision' or 'language' for a parameter or module name."""
    if any(k in name for k in PROJECTOR_KEYS):
        return "projector"
    if any(k in name for k in VISION_KEYS):
        return "vision"
    return "language"


def open_dataset(path: Any) -> Any:
    import datasets

    if not isinstance(path, (str, Path)):
        return path
    if not Path(path).exists():
        raise StageError(f"{path}: training data set not found")
    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as exc:  # not a save_to_disk folder
        raise StageError(f"{path}: not a data set saved with save_to_disk: {exc}") from None
    if isinstance(ds, datasets.DatasetDict):
        ds = ds["train"]
    if len(ds) == 0:
        raise StageError(f"{path}: the training data set is empty")
    return ds


def answer_token_ids(encs: list[D.Encoded], processor: Any) -> list[int]:
    """Token ids that occur in the training answers (for trainable_tokens='new')."""
    ids: set[int] = set()
    for e in encs:
        row = D.tokenize(processor, e.text, e.images)["input_ids"][0].tolist()
        for a, b in e.spans:
            ids.update(row[a:b])
    return sorted(ids)


def prepare_network(model: Any, params: TuneParams, token_ids: list[int]) -> Any:
    """Freeze what must not train; wrap the language model's linear layers with LoRA."""
    model.float()
    for p in model.parameters():
        p.requires_grad_(False)
    net = model
    if params.method == "lora":
        from peft import LoraConfig, get_peft_model

        names = "|".join(params.lora_targets)
        kw: dict[str, Any] = {}
        if params.trainable_tokens == "new":
            kw["trainable_token_indices"] = {"embed_tokens": token_ids}
        config = LoraConfig(
            r=params.lora_r,
            lora_alpha=params.lora_alpha,
            lora_dropout=params.lora_dropout,
            # a regex on full module names: the language model's layers only, never the
            # vision tower's own q/k/v projections
            target_modules=rf".*language_model.*\.({names})",
            bias="none",
            **kw,
        )
        net = get_peft_model(model, config)
    for name, p in net.named_parameters():
        where = part_of(name)
        if (
            (params.method == "full" and where == "language")
            or (params.train_projector and where == "projector")
            or (params.train_vision and where == "vision")
        ):
            p.requires_grad_(True)
    if not any(p.requires_grad for p in net.parameters()):
        raise StageError(
            f"no trainable parameters (method={params.method!r}, lora_targets="
            f"{params.lora_targets}): check the LoRA target module names"
        )
    return net


def _schedule(optimizer: Any, warmup: int, total: int) -> Any:
    def factor(step: int) -> float:
        if step < warmup:
            return float(step + 1) / float(max(1, warmup))
        return max(0.0, float(total - step) / float(max(1, total - warmup)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def plan(n: int, params: TuneParams) -> list[list[int]]:
    """Every optimizer step's example indices, over all epochs (seeded, so resumable)."""
    steps = []
    for epoch in range(params.epochs):
        gen = torch.Generator().manual_seed(params.seed * 100_003 + epoch)
        order = torch.randperm(n, generator=gen).tolist()
        steps += [order[s : s + params.batch_size] for s in range(0, n, params.batch_size)]
    return steps[: params.max_steps] if params.max_steps else steps


def _reset_accelerate_state() -> None:
    try:
        from accelerate.state import AcceleratorState

        AcceleratorState._reset_state(reset_partial_state=True)
    except Exception:  # pragma: no cover - private API moved: nothing to reset
        pass


def _latest(state_dir: Path | None) -> tuple[int, Path | None]:
    if state_dir is None or not (state_dir / "latest.json").is_file():
        return 0, None
    info = json.loads((state_dir / "latest.json").read_text(encoding="utf-8"))
    path = state_dir / info["dir"]
    return (int(info["step"]), path) if path.is_dir() else (0, None)


def _save_state(accelerator: Any, state_dir: Path, step: int) -> None:
    name = f"step-{step:07d}"
    accelerator.save_state(str(state_dir / name))
    prev = _latest(state_dir)[1]
    (state_dir / "latest.json").write_text(json.dumps({"step": step, "dir": name}))
    if prev is not None and prev.name != name:  # keep one: a 7B state is large
        shutil.rmtree(prev, ignore_errors=True)


def train_chat(
    model: Any,
    processor: Any,
    dataset: Any,
    params: TuneParams,
    log: Log = print,
    *,
    state_dir: Path | None = None,
    on_step: Callable[[Any, int], None] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Tune ``model`` on ``dataset`` (a saved sample collection); returns the network (a peft
    model for LoRA, adapters not yet fused) and a summary. ``state_dir`` holds the accelerate
    checkpoints a killed run resumes from; ``on_step(net, step)`` runs after every step."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    t0 = time.perf_counter()
    ds = open_dataset(dataset)
    image_id = D.image_token_id(processor, getattr(model, "config", None))
    encs, skipped = D.preflight(processor, ds, params.caption_prompt, params.max_length,
                                image_id, log)  # fmt: skip
    token_ids = answer_token_ids(encs, processor) if params.trainable_tokens == "new" else []
    _reset_accelerate_state()
    accelerator = Accelerator(mixed_precision="bf16" if params.precision == "bf16" else "no")
    set_seed(params.seed)
    net = prepare_network(model, params, token_ids)
    trainable = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=params.lr, weight_decay=params.weight_decay)
    steps = plan(len(encs), params)
    scheduler = _schedule(optimizer, int(params.warmup_ratio * len(steps)), len(steps))
    net, optimizer, scheduler = accelerator.prepare(net, optimizer, scheduler)
    start, resume_from = _latest(state_dir)
    if resume_from is not None:
        accelerator.load_state(str(resume_from))
        log(f"resuming from {resume_from} (step {start}/{len(steps)})")
    log(f"lvlm {params.method} tuning: {len(encs)} examples, {len(steps)} steps, "
        f"{sum(p.numel() for p in trainable)} trainable parameters")  # fmt: skip
    losses = _optimise(net, processor, encs, steps, start, params, accelerator,
                       optimizer, scheduler, state_dir, log, on_step)  # fmt: skip
    net = accelerator.unwrap_model(net)
    net.eval()
    summary = {
        "method": params.method,
        "steps": len(steps),
        "resumed_at": start,
        "examples": len(encs),
        "skipped": skipped,
        "first_loss": losses[0][1] if losses else None,
        "last_loss": losses[-1][1] if losses else None,
        "loss_curve": losses,
        "trainable_params": sum(p.numel() for p in trainable),
        "train_projector": params.train_projector,
        "train_vision": params.train_vision,
        "trainable_tokens": len(token_ids),
        "seconds": round(time.perf_counter() - t0, 3),
        "device": str(accelerator.device),
    }
    return net, summary


def _optimise(net, processor, encs, steps, start, params, accelerator, optimizer, scheduler,
              state_dir, log, on_step) -> list[tuple[int, float]]:  # fmt: skip
    from tqdm.auto import tqdm

    net.train()
    losses: list[tuple[int, float]] = []
    bar = tqdm(total=len(steps), initial=start, desc="tune", unit="step", file=sys.stderr,
               disable=None)  # fmt: skip
    for step in range(start, len(steps)):
        idx = steps[step]
        micro = [idx[s : s + params.micro_batch_size]
                 for s in range(0, len(idx), params.micro_batch_size)]  # fmt: skip
        batches = [D.collate(processor, [encs[i] for i in m], params.max_length) for m in micro]
        n_tok = sum(int((b["labels"] != D.IGNORE).sum()) for b in batches)
        total = 0.0
        for b in batches:
            n = int((b["labels"] != D.IGNORE).sum())
            b = {k: v.to(accelerator.device) for k, v in b.items()}
            loss = net(**b).loss  # mean over this micro-batch's answer tokens
            # weight by answer tokens: the step's loss is the mean over all its tokens
            accelerator.backward(loss * (n / n_tok))
            total += float(loss.detach()) * n / n_tok
        if not math.isfinite(total):
            raise StageError(f"step {step + 1}: loss is {total}; lower lr or check the data")
        if params.grad_clip is not None:
            accelerator.clip_grad_norm_([p for p in net.parameters() if p.requires_grad],
                                        params.grad_clip)  # fmt: skip
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        done = step + 1
        if done == 1 or done == len(steps) or done % params.log_every == 0:
            losses.append((done, round(total, 6)))
            log(f"step {done}/{len(steps)} loss {total:.4f}")
        if state_dir is not None and params.checkpoint_every and done % params.checkpoint_every == 0 \
                and done < len(steps):  # fmt: skip
            _save_state(accelerator, state_dir, done)
        bar.update(1)
        if on_step is not None:
            on_step(accelerator.unwrap_model(net), done)
    bar.close()
    return losses

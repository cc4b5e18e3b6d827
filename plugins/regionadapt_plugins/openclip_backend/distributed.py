"""Multi-process training: start N DDP workers with torchrun and collect rank 0's result.

Why torchrun and not ``accelerate launch --cpu --num_processes N``: the latter silently starts
ONE process on a machine without a GPU. ``torchrun`` with ``ACCELERATE_USE_CPU=1`` gives N gloo
ranks on CPU; with GPUs it gives one rank per GPU (what ``accelerate launch --multi_gpu`` runs
underneath). Workers read a JSON spec, train, and rank 0 writes the checkpoint and summary.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from regionadapt.errors import StageError
from regionadapt_plugins.openclip_backend.params import TuneParams

SUMMARY_NAME = "train_summary.json"


def launch_workers(
    base_dir: Path,
    train_data: Path,
    params: TuneParams,
    out_dir: Path,
    log: Callable[[str], None] = print,
    grads_out: Path | None = None,
) -> dict[str, Any]:
    """Train the checkpoint in ``base_dir`` with ``params.processes`` workers into ``out_dir``.

    Returns rank 0's summary. Raises StageError with the workers' last output lines on failure.
    """
    import torch

    n = params.processes
    env = dict(os.environ)
    if torch.cuda.is_available():
        if torch.cuda.device_count() < n:
            raise StageError(
                f"processes={n} but only {torch.cuda.device_count()} GPU(s) are visible"
            )
    else:
        env["ACCELERATE_USE_CPU"] = "1"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "base_dir": str(Path(base_dir).resolve()),
        "train_data": str(Path(train_data).resolve()),
        "out_dir": str(out_dir.resolve()),
        "params": params.model_dump(mode="json"),
        "grads_out": str(grads_out) if grads_out else None,
    }
    with tempfile.TemporaryDirectory(prefix="regionadapt-ddp-") as tmp:
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        cmd = [
            sys.executable, "-m", "torch.distributed.run", "--standalone",
            "--nproc_per_node", str(n),
            "-m", "regionadapt_plugins.openclip_backend.worker", str(spec_path),
        ]  # fmt: skip
        tail: collections.deque[str] = collections.deque(maxlen=40)
        proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line.rstrip("\n"))
            if line.startswith("[rank0] "):
                log(line[len("[rank0] ") :].rstrip("\n"))
        rc = proc.wait()
    if rc != 0:
        raise StageError(
            f"open_clip training with {n} processes failed (exit code {rc}); last output:\n"
            + "\n".join(tail)
        )
    summary_path = out_dir / SUMMARY_NAME
    if not summary_path.is_file():
        raise StageError(f"training workers exited without writing {summary_path}")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    summary_path.unlink()
    return summary


def train_in_workers(
    model: Any, dataset: Any, params: TuneParams, log: Callable[[str], None]
) -> dict:
    """``train_contrastive`` for processes > 1: round-trip the model through disk."""
    from regionadapt_plugins.openclip_backend.model import load_model, save_checkpoint

    with tempfile.TemporaryDirectory(prefix="regionadapt-tune-") as tmp:
        base, out = Path(tmp) / "base", Path(tmp) / "out"
        save_checkpoint(model, base)
        if isinstance(dataset, (str, Path)):
            data_path = Path(dataset)
        else:
            data_path = Path(tmp) / "data"
            dataset.save_to_disk(str(data_path))
        summary = launch_workers(base, data_path, params, out, log)
        tuned = load_model(str(out), device=model.device)
        model.model.load_state_dict(tuned.model.state_dict())
    return summary

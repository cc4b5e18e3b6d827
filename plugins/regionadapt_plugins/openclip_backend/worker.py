"""One DDP rank of a multi-process training run (started by :mod:`.distributed` via torchrun).

    python -m torch.distributed.run --nproc_per_node N \\
        -m regionadapt_plugins.openclip_backend.worker SPEC.json

Every rank loads the base checkpoint and trains on its share of each global batch; rank 0
saves the tuned checkpoint and the summary into the spec's ``out_dir``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(
            "usage: python -m regionadapt_plugins.openclip_backend.worker SPEC.json",
            file=sys.stderr,
        )
        return 2
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))

    from regionadapt_plugins.openclip_backend.distributed import SUMMARY_NAME
    from regionadapt_plugins.openclip_backend.model import load_model, save_checkpoint
    from regionadapt_plugins.openclip_backend.params import TuneParams
    from regionadapt_plugins.openclip_backend.train import run_training

    params = TuneParams.model_validate(spec["params"])

    def log(message: str) -> None:
        print(f"[rank0] {message}", flush=True)

    model = load_model(spec["base_dir"])
    summary = run_training(model, spec["train_data"], params, log, grads_out=spec.get("grads_out"))
    if summary["num_processes"] != params.processes:
        raise SystemExit(
            f"expected {params.processes} processes, accelerate sees {summary['num_processes']} "
            f"({summary['distributed_type']})"
        )
    import torch.distributed as dist

    if not dist.is_initialized() or dist.get_rank() == 0:
        out_dir = Path(spec["out_dir"])
        save_checkpoint(model, out_dir)
        (out_dir / SUMMARY_NAME).write_text(json.dumps(summary), encoding="utf-8")
    if dist.is_initialized():
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""The ``open_clip`` Backend component: the embedding architecture in the lifecycle.

Checkpoints are folders in open_clip's hub layout (see :mod:`.model`), so the merge engine
combines ``open_clip_model.safetensors`` tensor by tensor and copies the config as is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from regionadapt.components import Backend, Context
from regionadapt.handles import EmbeddingModel
from regionadapt.schema import Strict
from regionadapt_plugins.openclip_backend.params import ModelParams, TuneParams

WEIGHTS_FILE = "open_clip_model.safetensors"


class OpenClipBackend(Backend):
    name = "open_clip"
    arch = "embedding"
    description = (
        "CLIP/SigLIP-style embedding models through open_clip: load by architecture + tag, "
        "hf-hub: or a local folder; contrastive full or LoRA fine-tuning under accelerate."
    )
    ModelParams: ClassVar[type[Strict]] = ModelParams
    TuneParams: ClassVar[type[Strict]] = TuneParams
    handle = EmbeddingModel
    merge_grid = (0.25, 0.5, 0.75)
    recipe = "GG-EZ paper, SigLIP2-SO400M: full fine-tune, batch 128, lr 5e-6, 2 epochs, AdamW + linear decay"

    @classmethod
    def recognises(cls, model: str) -> bool:
        """open_clip specs (``hf-hub:``, ``local-dir:``) and open_clip checkpoint folders."""
        if model.startswith(("hf-hub:", "local-dir:")):
            return True
        return (Path(model).expanduser() / "open_clip_config.json").is_file()

    def prepare_base(self, ctx: Context, model: ModelParams, out_dir: Path) -> None:
        from regionadapt_plugins.openclip_backend.model import load_model, save_checkpoint

        mp = model
        weights = f" with pretrained weights {mp.pretrained!r}" if mp.pretrained else ""
        ctx.log(f"open_clip: loading base model {mp.model}{weights}")
        model = load_model(mp.model, mp.pretrained, precision=mp.precision)
        save_checkpoint(model, Path(out_dir))

    def tune(
        self, ctx: Context, params: TuneParams, base_dir: Path, train_data: Path, out_dir: Path
    ) -> dict[str, Any]:
        from regionadapt_plugins.openclip_backend.model import load_model, save_checkpoint

        tp = params
        if tp.processes > 1:  # workers read base_dir themselves; rank 0 writes out_dir
            from regionadapt_plugins.openclip_backend.distributed import launch_workers

            return launch_workers(Path(base_dir), Path(train_data), tp, Path(out_dir), ctx.log)
        from regionadapt_plugins.openclip_backend.train import train_contrastive

        model = load_model(str(base_dir))
        summary = train_contrastive(model, Path(train_data), tp, log=ctx.log)
        save_checkpoint(model, Path(out_dir))
        return summary

    def mergeable_files(self, ckpt_dir: Path) -> list[str]:
        return [WEIGHTS_FILE]

    def load(self, spec: str | Path) -> Any:
        from regionadapt_plugins.openclip_backend.model import load_model

        return load_model(str(spec))

"""The ``diffusers`` Backend component: the text-to-image architecture (``t2i``) in the lifecycle.

Checkpoints are pipeline folders (``save_pretrained``); only the UNet's safetensors are merged,
every other component is copied, so a merged folder loads with
``DiffusionPipeline.from_pretrained``. Generation defaults (image side, steps, guidance) travel
in ``regionadapt_t2i.json`` next to ``model_index.json`` (diffusers ignores it).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, ClassVar

from regionadapt.components import ADAPTER_DIR, Backend, Context, _release_memory
from regionadapt.handles import ImageGenerator
from regionadapt.schema import Strict
from regionadapt_plugins.diffusers_backend.params import RECIPE, ModelParams, TuneParams

GENERATION = "regionadapt_t2i.json"
# Params that change how a tune is bookkept, not its result: a resumed run may change them.
BOOKKEEPING = {"checkpoint_every", "keep_checkpoints", "checkpoint_dir", "log_every",
               "cache_batch_size"}  # fmt: skip


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _generation(folder: Path, pipe: Any) -> dict[str, Any]:
    from regionadapt_plugins.diffusers_backend.model import native_resolution

    path = Path(folder) / GENERATION
    saved = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return {
        "resolution": saved.get("resolution") or native_resolution(pipe),
        "num_inference_steps": saved.get("num_inference_steps", 30),
        "guidance_scale": saved.get("guidance_scale", 5.0),
    }


def _handle(folder: Path, pipe: Any, name: str) -> Any:
    from regionadapt_plugins.diffusers_backend.model import DiffusersGenerator

    return DiffusersGenerator(pipe=pipe.to(_device()), name=name, **_generation(folder, pipe))


class DiffusersBackend(Backend):
    name = "diffusers"
    arch = "t2i"
    description = (
        "Stable Diffusion 1.x/2.x and SDXL pipelines through diffusers (hub id, folder or "
        "single .safetensors file): UNet-only full or LoRA (peft) tuning under accelerate, "
        "with cached latents, Min-SNR, noise offset, EMA, checkpoints and resume."
    )
    ModelParams: ClassVar[type[Strict]] = ModelParams
    TuneParams: ClassVar[type[Strict]] = TuneParams
    handle = ImageGenerator
    merge_grid = (0.25, 0.5, 0.75)
    recipe = RECIPE

    @classmethod
    def recognises(cls, model: str) -> bool:
        """A pipeline folder (model_index.json) or a name that says diffusion (no download,
        no heavy import)."""
        path = Path(model).expanduser()
        if path.is_dir():
            return (path / "model_index.json").is_file()
        name = model.lower()
        return any(word in name for word in ("stable-diffusion", "sdxl", "sd-turbo", "diffusion"))

    def prepare_base(self, ctx: Context, model: ModelParams, out_dir: Path) -> None:
        from regionadapt_plugins.diffusers_backend.model import (
            check_resolution,
            load_pipeline,
            native_resolution,
            save_pipeline,
        )

        mp = model
        ctx.log(f"diffusers: loading base pipeline {mp.model}")
        pipe = load_pipeline(
            mp.model,
            precision=mp.precision,
            revision=mp.revision,
            variant=mp.variant,
            single_file_config=mp.single_file_config,
            pipeline=mp.pipeline,
        )
        resolution = mp.resolution or native_resolution(pipe)
        check_resolution(pipe, resolution, "t2i.model.params.resolution")
        save_pipeline(pipe, Path(out_dir))
        gen = {
            "resolution": resolution,
            "num_inference_steps": mp.num_inference_steps,
            "guidance_scale": mp.guidance_scale,
        }
        (Path(out_dir) / GENERATION).write_text(json.dumps(gen, indent=2) + "\n")

    def tune(
        self, ctx: Context, params: TuneParams, base_dir: Path, train_data: Path, out_dir: Path
    ) -> dict[str, Any]:
        from regionadapt.rundir import hash_json, hash_tree
        from regionadapt_plugins.diffusers_backend import adapter
        from regionadapt_plugins.diffusers_backend import data as D
        from regionadapt_plugins.diffusers_backend.model import (
            check_resolution,
            load_pipeline,
            save_pipeline,
        )
        from regionadapt_plugins.diffusers_backend.train import train_unet

        base_dir, out_dir = Path(base_dir), Path(out_dir)
        pipe = load_pipeline(base_dir)
        resolution = params.resolution or _generation(base_dir, pipe)["resolution"]
        check_resolution(pipe, resolution, "t2i.tune.resolution")
        if params.method == "lora":  # bad targets fail here, before any encoding
            adapter.check_targets(pipe.unet, params.lora_targets)
        ds = D.open_samples(Path(train_data))
        pipe.to(_device())
        inputs = [hash_tree(base_dir), hash_tree(Path(train_data)), resolution]
        work = self._work_dir(ctx, params, out_dir)
        cached = D.build_cache(
            pipe, ds, resolution, work / "cache", hash_json(inputs), params.cache_batch_size,
            ctx.log,
        )  # fmt: skip
        key = hash_json([inputs, params.model_dump(exclude=BOOKKEEPING)])
        summary = train_unet(pipe, cached, params, work, key, log=ctx.log)
        if params.method == "lora":
            adapter_dir = out_dir.parent / ADAPTER_DIR
            adapter.save(pipe, pipe.unet, adapter_dir)
            del pipe
            fused = load_pipeline(base_dir)
            save_pipeline(adapter.apply(fused, adapter_dir, 1.0), out_dir)
            summary["adapter_dir"] = str(adapter_dir)
        else:
            pipe.unet.to(dtype=pipe.vae.dtype)  # the base's dtype, so the merge pairs like dtypes
            save_pipeline(pipe.to("cpu"), out_dir)
        if (base_dir / GENERATION).is_file():
            shutil.copy2(base_dir / GENERATION, out_dir / GENERATION)
        shutil.rmtree(work, ignore_errors=True)  # finished: checkpoints and cache are spent
        summary["resolution"] = resolution
        return summary

    @staticmethod
    def _work_dir(ctx: Context, params: TuneParams, out_dir: Path) -> Path:
        if params.checkpoint_dir:
            return Path(params.checkpoint_dir)
        if ctx.run is not None:  # outside the stage's temp folder: survives a killed run
            return Path(ctx.run.root) / "checkpoints" / "t2i-tune"
        return out_dir.parent / "checkpoints"

    def mergeable_files(self, ckpt_dir: Path) -> list[str]:
        from regionadapt_plugins.diffusers_backend.model import unet_files

        return unet_files(Path(ckpt_dir))

    def load(self, spec: str | Path) -> Any:
        from regionadapt_plugins.diffusers_backend.model import load_pipeline

        return _handle(Path(spec), load_pipeline(spec), Path(str(spec)).name)

    def unload(self, handle: Any) -> None:
        if getattr(handle, "pipe", None) is not None:
            handle.pipe = None
        _release_memory()

    def interpolate(self, base_dir: Path, tuned_dir: Path, b: float) -> Any | None:
        from regionadapt_plugins.diffusers_backend import adapter
        from regionadapt_plugins.diffusers_backend.model import load_pipeline

        adapter_dir = Path(tuned_dir).parent / ADAPTER_DIR
        if not (adapter_dir / adapter.WEIGHT_NAME).is_file():
            return None  # a full tune: the lifecycle writes the linear merge
        pipe = adapter.apply(load_pipeline(base_dir), adapter_dir, b)
        return _handle(Path(base_dir), pipe, f"b={b:g}")

"""Load, check and save diffusers pipelines; the ``ImageGenerator`` handle evaluators use.

A checkpoint is a pipeline folder as ``save_pretrained`` writes it (``model_index.json`` and one
folder per component), so every folder we write loads with plain
``DiffusionPipeline.from_pretrained``. Only the UNet is ever tuned or merged; the other
components are carried over byte for byte. Weights are read from safetensors only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from regionadapt.errors import ConfigError

UNET = "unet"
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
# Components a text-to-image pipeline cannot run without (SDXL adds the *_2 pair).
REQUIRED = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
SINGLE_FILE_SUFFIXES = (".safetensors",)


def check_folder(folder: Path) -> dict[str, Any]:
    """Refuse a pipeline folder that misses a component, naming it; return model_index.json."""
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        raise ConfigError(
            f"{folder}: not a diffusers pipeline folder (model_index.json is missing)"
        )
    index = json.loads(index_path.read_text(encoding="utf-8"))
    declared = {k for k, v in index.items() if not k.startswith("_") and _is_component(v)}
    missing_decl = [c for c in REQUIRED if c not in declared]
    if missing_decl:
        raise ConfigError(
            f"{index_path}: the pipeline declares no {', '.join(missing_decl)} "
            f"(a text-to-image pipeline needs {', '.join(REQUIRED)})"
        )
    for name in sorted(declared):
        sub = folder / name
        if not sub.is_dir() or not any(sub.iterdir()):
            raise ConfigError(
                f"{folder}: component {name!r} is declared in model_index.json but its folder "
                f"{sub} is missing or empty"
            )
    if not list((folder / UNET).glob("*.safetensors")):
        raise ConfigError(f"{folder / UNET}: no .safetensors UNet weights (only safetensors load)")
    return index


def _is_component(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and value[1] is not None


def _pipeline_class(kind: str, name: str):
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    if kind == "auto":
        kind = "sdxl" if "xl" in Path(name).name.lower() else "sd"
    return StableDiffusionXLPipeline if kind == "sdxl" else StableDiffusionPipeline


def load_pipeline(
    spec: str | Path,
    *,
    precision: str = "fp32",
    revision: str | None = None,
    variant: str | None = None,
    single_file_config: str | None = None,
    pipeline: str = "auto",
):
    """A pipeline from a hub id, a local folder or a single safetensors file (CPU)."""
    from diffusers import DiffusionPipeline

    spec_s = str(spec)
    path = Path(spec_s).expanduser()
    dtype = DTYPES[precision]
    if spec_s.endswith(".ckpt") or spec_s.endswith(".pt") or spec_s.endswith(".bin"):
        raise ConfigError(
            f"{spec_s}: pickle checkpoints are not loaded (they can run code); convert it to "
            ".safetensors or a pipeline folder"
        )
    if path.is_file() and spec_s.endswith(SINGLE_FILE_SUFFIXES):
        cls = _pipeline_class(pipeline, spec_s)
        kwargs = {"config": single_file_config} if single_file_config else {}
        kwargs.update(_dtype_kwarg(dtype))
        return _guard(spec_s, lambda: cls.from_single_file(str(path), **kwargs))
    if path.is_dir():
        check_folder(path)
    elif spec_s.startswith(("/", "./", "../", "~")):
        raise ConfigError(f"diffusers pipeline folder {path} does not exist")
    pipe = _guard(
        spec_s,
        lambda: DiffusionPipeline.from_pretrained(
            str(path) if path.is_dir() else spec_s,
            **_dtype_kwarg(dtype),
            revision=revision,
            variant=variant,
            use_safetensors=True,
        ),
    )
    for name in REQUIRED:
        if getattr(pipe, name, None) is None:
            raise ConfigError(f"{spec_s}: pipeline {type(pipe).__name__} has no {name}")
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    return pipe


def _dtype_kwarg(dtype: torch.dtype) -> dict[str, Any]:
    # diffusers renamed torch_dtype to dtype (0.40+ warns on the old name).
    from diffusers import __version__
    from packaging.version import Version

    return {"dtype" if Version(__version__) >= Version("0.40") else "torch_dtype": dtype}


def _guard(spec: str, fn):
    # Configuration problems (a missing file, a bad config, an unknown repo) become a
    # ConfigError naming the model; MemoryError and the rest propagate unchanged, so that
    # running out of memory is not mistaken for a bad config.
    try:
        return fn()
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(
            f"cannot load diffusers pipeline {spec!r}: {type(exc).__name__}: {exc}"
        ) from exc


def is_sdxl(pipe: Any) -> bool:
    return getattr(pipe, "text_encoder_2", None) is not None


def scale_factor(pipe: Any) -> int:
    """What the image side must be a multiple of: the VAE's downsampling times the UNet's."""
    vae_factor = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    unet_factor = 2 ** (len(pipe.unet.config.block_out_channels) - 1)
    return vae_factor * unet_factor


def native_resolution(pipe: Any) -> int:
    sample = pipe.unet.config.sample_size
    sample = sample[0] if isinstance(sample, (list, tuple)) else sample
    return int(sample) * 2 ** (len(pipe.vae.config.block_out_channels) - 1)


def check_resolution(pipe: Any, resolution: int, where: str) -> None:
    factor = scale_factor(pipe)
    if resolution % factor:
        raise ConfigError(
            f"{where}: resolution {resolution} is not a multiple of {factor} (the VAE and the "
            f"UNet downsample by {factor} together); try {max(factor, resolution // factor * factor)}"
        )


def save_pipeline(pipe: Any, out_dir: Path) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(str(out_dir), safe_serialization=True)


def unet_files(ckpt_dir: Path) -> list[str]:
    """The UNet's safetensors files (relative paths): the only weights the merge combines."""
    files = sorted(
        str(p.relative_to(ckpt_dir)) for p in (Path(ckpt_dir) / UNET).glob("*.safetensors")
    )
    if not files:
        raise ConfigError(f"{ckpt_dir / UNET}: no UNet .safetensors files to merge")
    return files


@dataclass
class DiffusersGenerator:
    """An ``ImageGenerator``: a loaded pipeline and its generation defaults."""

    pipe: Any
    resolution: int
    num_inference_steps: int = 30
    guidance_scale: float = 5.0
    # Which model this is ("base", "tuned", "b=0.25"): names its images in contact sheets.
    name: str = ""

    @torch.inference_mode()
    def generate(
        self,
        prompts: list[str],
        seed: int,
        *,
        batch_size: int = 8,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
    ) -> list[Any]:
        """One PIL image per prompt; image ``i`` comes from a generator seeded ``seed + i``."""
        prompts = list(prompts)
        if not prompts:
            raise ValueError("generate: the prompt list is empty")
        bad = [i for i, p in enumerate(prompts) if not isinstance(p, str)]
        if bad:
            raise ValueError(f"generate: prompts {bad[:5]} are not strings")
        out: list[Any] = []
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start : start + batch_size]
            gens = [
                torch.Generator(device="cpu").manual_seed(seed + start + j)
                for j in range(len(chunk))
            ]
            result = self.pipe(
                chunk,
                generator=gens,
                num_inference_steps=num_inference_steps or self.num_inference_steps,
                guidance_scale=self.guidance_scale if guidance_scale is None else guidance_scale,
                height=self.resolution,
                width=self.resolution,
                output_type="pil",
            )
            out.extend(result.images)
        return out

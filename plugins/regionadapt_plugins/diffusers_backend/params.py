"""Typed parameters of the diffusers backend: which pipeline to load and how to tune its UNet.

Pydantic only (no torch): the CLI validates a config against these before any heavy import.
The tuning defaults are the GG-EZ paper's SDXL recipe: the UNet only (VAE and text encoders
frozen), batch 32, lr 1e-5, 4 epochs, AdamW with linear decay.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from regionadapt.schema import Strict

Precision = Literal["fp32", "bf16", "fp16"]
RECIPE = "GG-EZ paper, SDXL: UNet only (VAE + text encoders frozen), batch 32, lr 1e-5, 4 epochs, AdamW + linear decay"


class ModelParams(Strict):
    """The base pipeline: ``[t2i.model.params]`` in regionadapt.toml."""

    model: str = Field(
        description="A diffusers pipeline: a hub id ('stabilityai/stable-diffusion-xl-base-1.0'), "
        "a local folder saved with save_pretrained (model_index.json + one folder per "
        "component), or a single .safetensors checkpoint (loaded with from_single_file)."
    )
    revision: str | None = Field(default=None, description="Hub revision (branch, tag, commit).")
    variant: str | None = Field(
        default=None, description="Weights variant to load, e.g. 'fp16' (files *.fp16.safetensors)."
    )
    precision: Precision = Field(
        default="fp32",
        description="Dtype the pipeline is loaded (and the base saved) in; tuning keeps its "
        "trainable weights in fp32 whatever this says.",
    )
    single_file_config: str | None = Field(
        default=None,
        description="For a single-file checkpoint: the hub id or folder of a pipeline whose "
        "configs it follows (needed offline; diffusers guesses it online).",
    )
    pipeline: Literal["auto", "sd", "sdxl"] = Field(
        default="auto",
        description="Pipeline class for a single-file checkpoint ('auto': SDXL when the name "
        "says 'xl', else SD 1.x/2.x). Folders and hub ids name their own class.",
    )
    resolution: int | None = Field(
        default=None,
        ge=8,
        description="Image side in pixels for tuning and generation (None: the UNet's "
        "sample_size x the VAE's scale factor, e.g. 1024 for SDXL).",
    )
    num_inference_steps: int = Field(default=30, ge=1, description="Denoising steps per image.")
    guidance_scale: float = Field(default=5.0, ge=0, description="Classifier-free guidance.")


class TuneParams(Strict):
    """UNet fine-tuning: ``[t2i.tune]`` in regionadapt.toml."""

    method: Literal["full", "lora"] = Field(
        default="full",
        description="'full' trains every UNet weight (the paper); 'lora' trains peft adapters, "
        "fused into the output pipeline and kept unfused for the cheap merge sweep.",
    )
    epochs: int = Field(default=4, ge=1, description="Passes over the training data.")
    max_steps: int | None = Field(
        default=None, ge=1, description="Stop after this many optimizer steps (None: all epochs)."
    )
    batch_size: int = Field(default=32, ge=1, description="Images per optimizer step.")
    lr: float = Field(default=1e-5, gt=0, description="Peak AdamW learning rate.")
    weight_decay: float = Field(default=1e-2, ge=0, description="AdamW decoupled weight decay.")
    warmup_ratio: float = Field(
        default=0.0, ge=0, lt=1, description="Linear warm-up share; then linear decay to 0."
    )
    grad_clip: float | None = Field(
        default=1.0, gt=0, description="Clip the gradient norm to this (None: no clipping)."
    )
    lora_r: int = Field(default=16, ge=1, description="LoRA rank (method='lora').")
    lora_alpha: float = Field(default=16, gt=0, description="LoRA alpha (method='lora').")
    lora_dropout: float = Field(default=0.0, ge=0, lt=1, description="LoRA dropout.")
    lora_targets: list[str] = Field(
        default_factory=lambda: ["to_q", "to_k", "to_v", "to_out.0"],
        min_length=1,
        description="UNet module names LoRA wraps (diffusers' attention projections by "
        "default); every name must match at least one UNet module.",
    )
    resolution: int | None = Field(
        default=None,
        ge=8,
        description="Training image side (None: the model's). Images are resized on the short "
        "side and centre-cropped; it must be a multiple of what the VAE and UNet downsample by.",
    )
    prediction_type: Literal["epsilon", "v_prediction", "sample"] | None = Field(
        default=None,
        description="What the UNet predicts (None: what the pipeline's scheduler config says).",
    )
    snr_gamma: float | None = Field(
        default=None, gt=0, description="Min-SNR loss weighting gamma (5.0 is usual; None: off)."
    )
    noise_offset: float = Field(
        default=0.0, ge=0, description="Noise offset (0.05-0.1 helps very dark/bright images)."
    )
    precision: Precision = Field(
        default="fp32",
        description="'bf16'/'fp16': mixed precision (autocast; trainable weights stay fp32, "
        "frozen LoRA base weights are cast down).",
    )
    gradient_checkpointing: bool = Field(
        default=False, description="Recompute UNet activations in backward (less memory)."
    )
    ema: bool = Field(
        default=False,
        description="Keep an exponential moving average of the trained weights "
        "and save that instead of the last weights.",
    )
    ema_decay: float = Field(default=0.9999, gt=0, lt=1, description="EMA decay per step.")
    checkpoint_every: int = Field(
        default=500,
        ge=0,
        description="Save an accelerate checkpoint every this many steps (0: never); a tune "
        "killed midway resumes from the last one when started again with the same inputs.",
    )
    keep_checkpoints: int = Field(default=2, ge=1, description="Checkpoints kept on disk.")
    checkpoint_dir: str | None = Field(
        default=None,
        description="Where checkpoints live (None: <run>/checkpoints/t2i-tune, outside the "
        "stage's temporary folder so that they survive a killed run).",
    )
    cache_batch_size: int = Field(
        default=16, ge=1, description="Images per VAE / text-encoder call when caching."
    )
    seed: int = Field(default=0, description="Seeds adapters, shuffling, noise and timesteps.")
    log_every: int = Field(default=50, ge=1, description="Log the loss every this many steps.")

    @model_validator(mode="after")
    def _check(self) -> TuneParams:
        if self.ema and self.ema_decay <= 0.5:
            raise ValueError(f"ema_decay={self.ema_decay}: expected close to 1 (e.g. 0.999)")
        return self

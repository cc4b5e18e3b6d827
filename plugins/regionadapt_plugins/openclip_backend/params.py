"""Typed parameters of the open_clip backend: which model to load and how to tune it.

Pydantic only (no torch): the CLI validates a config against these before any heavy import.
The tuning defaults are the GG-EZ paper's embedding recipe (SigLIP2, full fine-tune, bs 128,
lr 5e-6, 2 epochs, AdamW with linear decay).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from regionadapt.schema import Strict

Precision = Literal["fp32", "bf16"]


class ModelParams(Strict):
    """The base model: ``[embedding.model]`` in regionadapt.toml."""

    model: str = Field(
        description=(
            "open_clip model spec: an architecture name ('ViT-B-32', used with `pretrained`), "
            "'hf-hub:org/name', 'local-dir:/path' or a plain path to a checkpoint folder "
            "holding open_clip_config.json + open_clip_model.safetensors."
        )
    )
    pretrained: str | None = Field(
        default=None,
        description=(
            "Pretrained tag ('laion2b_s34b_b79k') or weights file, used only with an architecture "
            "name; None gives random weights. Ignored (must be None) for hf-hub:/local specs."
        ),
    )
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        default="fp32", description="Dtype the weights are loaded in for evaluation."
    )

    @model_validator(mode="after")
    def _pretrained_only_with_name(self) -> ModelParams:
        if self.pretrained and self.model.startswith(("hf-hub:", "local-dir:")):
            raise ValueError(
                f"pretrained={self.pretrained!r} is only valid with an open_clip architecture "
                f"name; {self.model!r} carries its own weights"
            )
        return self


class TuneParams(Strict):
    """Contrastive fine-tuning: ``[embedding.tune]`` in regionadapt.toml."""

    method: Literal["full", "lora"] = Field(
        default="full",
        description="'full' trains every weight (the paper); 'lora' trains low-rank adapters "
        "that are fused into the weights before saving, so the output is a plain full model.",
    )
    epochs: int = Field(default=2, ge=1, description="Passes over the training data.")
    max_steps: int | None = Field(
        default=None, ge=1, description="Stop after this many optimizer steps (None: all epochs)."
    )
    batch_size: int = Field(
        default=128,
        ge=2,
        description="Global batch size (all processes together; contrastive negatives come from "
        "the whole global batch). Must be divisible by `processes`.",
    )
    lr: float = Field(default=5e-6, gt=0, description="Peak AdamW learning rate.")
    weight_decay: float = Field(default=0.1, ge=0, description="AdamW decoupled weight decay.")
    warmup_ratio: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="Fraction of steps with linear warm-up; the rest decays linearly to 0.",
    )
    grad_clip: float | None = Field(
        default=1.0, gt=0, description="Clip the global gradient norm to this (None: no clipping)."
    )
    lora_r: int = Field(default=16, ge=1, description="LoRA rank (method='lora').")
    lora_alpha: float = Field(default=32, gt=0, description="LoRA scaling alpha (method='lora').")
    lora_dropout: float = Field(default=0.0, ge=0, lt=1, description="LoRA dropout.")
    lora_targets: list[str] = Field(
        default_factory=lambda: ["c_fc", "c_proj", "attn"],
        description="Module names LoRA wraps. Keep 'attn' (the whole nn.MultiheadAttention): "
        "adapters on 'out_proj' alone never receive a gradient.",
    )
    freeze_vision: bool = Field(default=False, description="Keep the image tower fixed.")
    freeze_text: bool = Field(default=False, description="Keep the text tower fixed.")
    seed: int = Field(default=0, description="Seeds weights of adapters, shuffling and dropout.")
    precision: Precision = Field(
        default="fp32",
        description="'bf16' trains under bf16 autocast (mixed precision, fp32 master weights).",
    )
    processes: int = Field(
        default=1,
        ge=1,
        description="Worker processes (DDP through torchrun; one per GPU, or CPU processes "
        "with gloo). 1 trains in the calling process.",
    )
    preload_max_mb: int = Field(
        default=2048,
        ge=0,
        description="Decode and preprocess every image once, up front, when the pixel tensor "
        "fits in this many MiB (fast for small data); otherwise decode on the fly.",
    )
    num_workers: int = Field(
        default=0, ge=0, description="DataLoader workers when images are decoded on the fly."
    )
    log_every: int = Field(default=50, ge=1, description="Log the loss every this many steps.")

    @model_validator(mode="after")
    def _check(self) -> TuneParams:
        if self.batch_size % self.processes:
            raise ValueError(
                f"batch_size={self.batch_size} must be divisible by processes={self.processes}"
            )
        if self.freeze_vision and self.freeze_text:
            raise ValueError("freeze_vision and freeze_text are both true: nothing would train")
        return self

"""Typed parameters of the transformers chat backend: which model to load and how to tune it.

Pydantic only (no torch): the CLI validates a config against these before any heavy import.
The tuning defaults are the GG-EZ paper's Gemma-3 recipe (batch 64, lr 2e-5, 3 epochs, AdamW
with linear decay); LoRA on the language model with the vision tower frozen is the default
method, since it makes the merge sweep cheap (the adapter at scale b is the linear merge).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from regionadapt.schema import Strict

Precision = Literal["fp32", "bf16", "fp16"]


class ModelParams(Strict):
    """The base model: ``[lvlm.model.params]`` in regionadapt.toml."""

    model: str = Field(
        description="A hub id ('google/gemma-3-4b-it', 'llava-hf/llava-1.5-7b-hf', "
        "'Qwen/Qwen2-VL-2B-Instruct') or a local folder saved with save_pretrained "
        "(model + processor with a chat template). Loaded with AutoModelForImageTextToText "
        "and AutoProcessor."
    )
    revision: str | None = Field(default=None, description="Hub revision (commit or tag).")
    trust_remote_code: bool = Field(
        default=False,
        description="Run the model repository's own Python code. Off unless you trust it.",
    )
    precision: Precision = Field(
        default="fp32", description="Dtype the weights are loaded in for evaluation."
    )
    chat_template: str | None = Field(
        default=None,
        description="A Jinja chat template (text, or a path to a .jinja file) for a model "
        "whose processor has none; otherwise the model's own template is used.",
    )


class TuneParams(Strict):
    """Supervised fine-tuning on chat turns: ``[lvlm.tune]`` in regionadapt.toml."""

    method: Literal["lora", "full"] = Field(
        default="lora",
        description="'lora' trains low-rank adapters on the language model (saved unfused for "
        "the cheap merge sweep, fused into the exported model); 'full' trains every weight of "
        "the language model.",
    )
    train_projector: bool = Field(
        default=False, description="Also train the multimodal projector (fully)."
    )
    train_vision: bool = Field(
        default=False, description="Also train the vision tower (fully); frozen by default."
    )
    trainable_tokens: Literal["none", "new"] = Field(
        default="none",
        description="With LoRA: 'new' also trains the input-embedding rows of the tokens of the "
        "training answers (peft trainable_token_indices); LoRA alone cannot learn names whose "
        "tokens were never seen in pretraining.",
    )
    epochs: int = Field(default=3, ge=1, description="Passes over the training data.")
    max_steps: int | None = Field(
        default=None, ge=1, description="Stop after this many optimizer steps (None: all epochs)."
    )
    batch_size: int = Field(default=64, ge=1, description="Examples per optimizer step.")
    micro_batch_size: int = Field(
        default=8, ge=1, description="Examples per forward pass (gradient accumulation)."
    )
    lr: float = Field(default=2e-5, gt=0, description="Peak AdamW learning rate.")
    weight_decay: float = Field(default=0.0, ge=0, description="AdamW decoupled weight decay.")
    warmup_ratio: float = Field(
        default=0.03,
        ge=0,
        lt=1,
        description="Fraction of steps with linear warm-up, then linear decay to 0.",
    )
    grad_clip: float | None = Field(default=1.0, gt=0, description="Clip the gradient norm.")
    lora_r: int = Field(default=16, ge=1, description="LoRA rank.")
    lora_alpha: float = Field(default=32, gt=0, description="LoRA scaling alpha.")
    lora_dropout: float = Field(default=0.0, ge=0, lt=1, description="LoRA dropout.")
    lora_targets: list[str] = Field(
        default_factory=lambda: [
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
        ],  # fmt: skip
        description="Linear module names LoRA wraps, inside the language model only.",
    )
    max_length: int = Field(
        default=2048,
        ge=8,
        description="Longest tokenised example (image tokens included). An example whose image "
        "tokens would be cut is refused before training, naming the sample.",
    )
    caption_prompt: str = Field(
        default="Describe this image.",
        description="User turn for samples without chat turns (plain captions): the caption "
        "becomes the assistant's answer.",
    )
    precision: Literal["fp32", "bf16"] = Field(
        default="fp32", description="'bf16' trains under bf16 autocast (fp32 master weights)."
    )
    checkpoint_every: int | None = Field(
        default=200,
        ge=1,
        description="Save the training state (accelerate) every this many steps; a killed "
        "tune stage resumes from the last one. None: never.",
    )
    seed: int = Field(default=0, description="Seeds adapter init, shuffling and dropout.")
    log_every: int = Field(default=20, ge=1, description="Log the loss every this many steps.")

    @model_validator(mode="after")
    def _check(self) -> TuneParams:
        if self.batch_size % min(self.micro_batch_size, self.batch_size):
            raise ValueError(
                f"batch_size={self.batch_size} must be a multiple of "
                f"micro_batch_size={self.micro_batch_size}"
            )
        if self.trainable_tokens != "none" and self.method != "lora":
            raise ValueError("trainable_tokens applies to method='lora' only (full trains all)")
        return self

"""Load and save vision-language chat models through transformers' Auto classes.

Any model ``AutoModelForImageTextToText`` and ``AutoProcessor`` load works (LLaVA, Qwen2-VL,
Gemma-3...), by hub id or local folder. Two things are checked before any work starts, because
both otherwise fail much later and obscurely: the processor must take images, and there must be
a chat template (the model's own, or one given in the config).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from regionadapt.errors import ConfigError

DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def resolve_template(template: str | None) -> str | None:
    """A chat template given as text or as a path to a file holding it."""
    if template is None:
        return None
    if "{" not in template and Path(template).expanduser().is_file():
        return Path(template).expanduser().read_text(encoding="utf-8")
    return template


def load_processor(
    spec: str | Path,
    *,
    revision: str | None = None,
    trust_remote_code: bool = False,
    chat_template: str | None = None,
) -> Any:
    from transformers import AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(
            str(spec), revision=revision, trust_remote_code=trust_remote_code
        )
    except OSError as exc:  # not found / no processor files
        raise ConfigError(f"lvlm model {spec}: cannot load its processor: {exc}") from None
    check_processor(processor, str(spec))
    template = resolve_template(chat_template)
    if template is not None:
        processor.chat_template = template
    if not chat_template_of(processor):
        raise ConfigError(
            f"lvlm model {spec}: the processor has no chat template; set "
            "[lvlm.model.params] chat_template (Jinja text or a .jinja file)"
        )
    return processor


def check_processor(processor: Any, where: str) -> None:
    """Refuse a processor that cannot turn images into model inputs (a bare tokenizer...)."""
    if getattr(processor, "image_processor", None) is None or not hasattr(processor, "tokenizer"):
        raise ConfigError(
            f"lvlm model {where}: its processor ({type(processor).__name__}) cannot take images; "
            "expected a multimodal processor with an image_processor and a tokenizer "
            "(AutoProcessor of a vision-language model)"
        )


def chat_template_of(processor: Any) -> str | None:
    return getattr(processor, "chat_template", None) or getattr(
        processor.tokenizer, "chat_template", None
    )


def load_model(
    spec: str | Path,
    *,
    revision: str | None = None,
    trust_remote_code: bool = False,
    precision: str = "fp32",
    device: str | None = None,
) -> Any:
    import torch
    from transformers import AutoModelForImageTextToText

    try:
        model = AutoModelForImageTextToText.from_pretrained(
            str(spec),
            revision=revision,
            trust_remote_code=trust_remote_code,
            dtype=getattr(torch, DTYPES[precision]),
        )
    except (OSError, ValueError) as exc:  # missing files, or not an image-text-to-text model
        raise ConfigError(f"lvlm model {spec}: cannot load it as a chat VLM: {exc}") from None
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return model.to(device).eval()


def save_model(model: Any, processor: Any, out_dir: Path) -> None:
    """A folder ``from_pretrained`` loads: safetensors weights, config, generation config,
    processor and chat template."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    processor.save_pretrained(out_dir)


def weight_files(ckpt_dir: Path) -> list[str]:
    """The model's safetensors files (one file, or shards), relative to the folder."""
    ckpt_dir = Path(ckpt_dir)
    files = sorted(p.name for p in ckpt_dir.glob("model*.safetensors"))
    if not files:
        raise ConfigError(f"{ckpt_dir}: no model*.safetensors (not a save_pretrained folder?)")
    return files

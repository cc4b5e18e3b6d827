"""LoRA adapters on the UNet: attach (peft), save unfused, and apply at a scale b.

The adapter is saved in diffusers' LoRA format (``pytorch_lora_weights.safetensors`` with its
peft config as metadata), so ``pipe.load_lora_weights(folder)`` loads it in any diffusers
script too. Applying it fused at scale ``b`` gives ``W + b * (alpha / r) * B @ A``, which is
exactly the linear merge ``(1 - b) * base + b * tuned`` of the base UNet and the UNet fused at
1: the merge sweep needs no full-weight copies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from regionadapt.errors import ConfigError

ADAPTER_NAME = "regional"
WEIGHT_NAME = "pytorch_lora_weights.safetensors"


def matches(module_name: str, target: str) -> bool:
    """peft's rule for a plain target name: the whole name or its dotted suffix."""
    return module_name == target or module_name.endswith("." + target)


def check_targets(unet: Any, targets: list[str]) -> None:
    """Every LoRA target must name at least one UNet Linear/Conv module (before training)."""
    import torch

    names = [
        n for n, m in unet.named_modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))
    ]
    dead = [t for t in targets if not any(matches(n, t) for n in names)]
    if dead:
        sample = sorted({n.rsplit(".", 1)[-1] for n in names})[:12]
        raise ConfigError(
            f"t2i.tune.lora_targets: {dead} match no Linear/Conv module of the UNet "
            f"(module names end with e.g. {', '.join(sample)})"
        )


def attach(unet: Any, r: int, alpha: float, dropout: float, targets: list[str]) -> None:
    from peft import LoraConfig

    check_targets(unet, targets)
    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        init_lora_weights="gaussian",
        target_modules=list(targets),
    )
    unet.add_adapter(config, adapter_name=ADAPTER_NAME)


def lora_state(unet: Any) -> dict[str, Any]:
    """The adapter's weights with peft's key names (``<module>.lora_A/B.weight``), which
    ``load_lora_weights`` reads as they are. Not through diffusers'
    ``convert_state_dict_to_diffusers`` (as its training scripts do): that renames attention keys
    to the old ``lora.down/up`` form but leaves proj/ff/conv keys alone, and a file with both
    forms loads as peft-format with every attention LoRA silently dropped."""
    from peft.utils import get_peft_model_state_dict

    return get_peft_model_state_dict(unet, adapter_name=ADAPTER_NAME)


def save(pipe: Any, unet: Any, folder: Path) -> None:
    """Write the UNet's adapter unfused (fp32) in diffusers' LoRA format."""
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().to("cpu", torch.float32).contiguous() for k, v in lora_state(unet).items()
    }
    config = unet.peft_config[ADAPTER_NAME].to_dict()
    type(pipe).save_lora_weights(
        str(folder),
        unet_lora_layers=state,
        weight_name=WEIGHT_NAME,
        safe_serialization=True,
        unet_lora_adapter_metadata=config,
    )


def check_keys(pipe: Any, folder: Path) -> set[str]:
    """Refuse an adapter whose keys do not all land on modules of this UNet; return the names
    of the modules it adapts."""
    from safetensors import safe_open

    path = Path(folder) / WEIGHT_NAME
    if not path.is_file():
        raise ConfigError(f"{folder}: no LoRA adapter ({WEIGHT_NAME} is missing)")
    with safe_open(str(path), framework="pt") as fh:
        keys = list(fh.keys())
    modules = {n for n, _ in pipe.unet.named_modules()}
    bad, adapted = [], set()
    for key in keys:
        body = key.removeprefix("unet.")
        module = body.split(".lora", 1)[0] if ".lora" in body else None
        if module is None or module not in modules:
            bad.append(key)
        else:
            adapted.add(module)
    if not keys or bad:
        raise ConfigError(
            f"{path}: {len(bad)} of {len(keys)} LoRA keys match no module of the UNet "
            f"(e.g. {bad[:3]}); was the adapter trained on another model?"
        )
    return adapted


def check_loaded(pipe: Any, path: Path, adapted: set[str]) -> None:
    """Every module the file adapts must carry the loaded adapter: diffusers skips keys it
    cannot read with at most a warning, and a fused pipeline would then miss part of the tune."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    loaded = {
        n
        for n, m in pipe.unet.named_modules()
        if isinstance(m, BaseTunerLayer) and ADAPTER_NAME in getattr(m, "lora_A", {})
    }
    missing = sorted(adapted - loaded)
    if missing:
        raise ConfigError(
            f"{path}: diffusers loaded the LoRA of {len(adapted) - len(missing)} of "
            f"{len(adapted)} modules (not e.g. {missing[:3]}); a file mixing the old "
            f"lora.down/up keys with peft's lora_A/B ones (as regionadapt wrote before "
            f"2026-12-03) loads so: rerun the tune to rewrite it"
        )


def apply(pipe: Any, folder: Path, scale: float) -> Any:
    """Load the adapter in ``folder`` into ``pipe`` and fuse it at ``scale``; return ``pipe``."""
    adapted = check_keys(pipe, folder)
    pipe.load_lora_weights(str(folder), weight_name=WEIGHT_NAME, adapter_name=ADAPTER_NAME)
    check_loaded(pipe, Path(folder) / WEIGHT_NAME, adapted)
    pipe.fuse_lora(components=["unet"], lora_scale=float(scale), adapter_names=[ADAPTER_NAME])
    pipe.unload_lora_weights()  # drops the (already fused) adapter layers, keeps the weights
    return pipe

"""Create, load and save open_clip models in open_clip's own hub layout.

A checkpoint folder is exactly what ``open_clip.push_to_hf_hub`` uploads: ``open_clip_config.json``
(``{"model_cfg": ..., "preprocess_cfg": ...}``) next to ``open_clip_model.safetensors``. So a
folder we write loads with plain open_clip (``local-dir:``), and a hub repo in that layout loads
here (``hf-hub:``). Weights are only ever read from safetensors or with ``weights_only=True``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from regionadapt.errors import ConfigError

CONFIG_NAME = "open_clip_config.json"
WEIGHTS_NAME = "open_clip_model.safetensors"
LOCAL_PREFIX = "local-dir:"
HUB_PREFIX = "hf-hub:"


@dataclass
class EmbeddingModel:
    """An open_clip model with what it needs to embed raw inputs.

    ``model_cfg`` is the open_clip model config the weights belong to; it is written next to
    the weights so that the checkpoint can be rebuilt without this package.
    """

    model: torch.nn.Module
    preprocess: Callable[[Any], torch.Tensor]
    tokenizer: Callable[..., torch.Tensor]
    model_cfg: dict[str, Any]
    preprocess_cfg: dict[str, Any] = field(default_factory=dict)

    @property
    def logit_scale(self) -> float:
        return float(self.model.logit_scale.detach().float().exp().item())

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _dtype(self, tower: torch.nn.Module) -> torch.dtype:
        # open_clip's low-precision load casts conv/linear weights but may keep embeddings
        # and norms in fp32: the input must match the first layer it meets.
        for module in tower.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                return module.weight.dtype
        return next(tower.parameters()).dtype

    @torch.inference_mode()
    def encode_images(self, images: list[Any], batch_size: int = 64) -> torch.Tensor:
        """L2-normalised float32 image embeddings, one row per PIL image, on the CPU."""
        self.model.eval()
        dtype = self._dtype(self.model.visual)
        out = []
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            pixels = torch.stack([self.preprocess(img) for img in chunk])
            pixels = pixels.to(self.device, dtype=dtype)
            out.append(self.model.encode_image(pixels, normalize=True).float().cpu())
        return _cat(out, self.model_cfg["embed_dim"])

    @torch.inference_mode()
    def encode_texts(self, texts: list[str], batch_size: int = 256) -> torch.Tensor:
        """L2-normalised float32 text embeddings, one row per string, on the CPU."""
        self.model.eval()
        out = []
        for start in range(0, len(texts), batch_size):
            tokens = self.tokenizer(list(texts[start : start + batch_size])).to(self.device)
            out.append(self.model.encode_text(tokens, normalize=True).float().cpu())
        return _cat(out, self.model_cfg["embed_dim"])


def _cat(parts: list[torch.Tensor], dim: int) -> torch.Tensor:
    return torch.cat(parts) if parts else torch.empty(0, dim)


def _tokenizer_for(model_cfg: dict[str, Any]) -> Callable[..., torch.Tensor]:
    import open_clip

    text_cfg = model_cfg.get("text_cfg", {})
    context_length = text_cfg.get("context_length", 77)
    if text_cfg.get("hf_tokenizer_name"):
        return open_clip.HFTokenizer(
            text_cfg["hf_tokenizer_name"],
            context_length=context_length,
            **text_cfg.get("tokenizer_kwargs", {}),
        )
    return open_clip.SimpleTokenizer(
        context_length=context_length, **text_cfg.get("tokenizer_kwargs", {})
    )


def _transform(preprocess_cfg: dict[str, Any]) -> Callable[[Any], torch.Tensor]:
    from open_clip.transform import PreprocessCfg, image_transform_v2, merge_preprocess_dict

    cfg = merge_preprocess_dict(PreprocessCfg(), preprocess_cfg)
    return image_transform_v2(PreprocessCfg(**cfg), is_train=False)


def create_model(
    model_cfg: dict[str, Any], preprocess_cfg: dict[str, Any] | None = None
) -> EmbeddingModel:
    """A randomly initialised open_clip model from a model-config dict.

    The dict has the format of open_clip's JSON model configs
    (``{"embed_dim": .., "vision_cfg": {..}, "text_cfg": {..}}``). Used to build small models
    from scratch (the demo world, tests) without registering a config globally.
    """
    from open_clip.model import (
        CLIP,
        CustomTextCLIP,
        get_model_preprocess_cfg,
        set_model_preprocess_cfg,
    )
    from open_clip.transform import PreprocessCfg, merge_preprocess_dict

    for key in ("embed_dim", "vision_cfg", "text_cfg"):
        if key not in model_cfg:
            raise ConfigError(
                f"open_clip model config: missing key {key!r} (got {sorted(model_cfg)})"
            )
    saved_cfg = copy.deepcopy(model_cfg)
    cfg = copy.deepcopy(model_cfg)
    custom_text = cfg.pop("custom_text", False) or "hf_model_name" in cfg["text_cfg"]
    if "hf_model_name" in cfg["text_cfg"]:
        cfg["text_cfg"]["hf_model_pretrained"] = False  # random init means random: no download
    if "timm_model_name" in cfg["vision_cfg"]:
        cfg["vision_cfg"]["timm_model_pretrained"] = False
    cls = CustomTextCLIP if custom_text else CLIP
    try:
        model = cls(**cfg)
    except TypeError as exc:
        raise ConfigError(
            f"open_clip model config is not valid for {cls.__name__}: {exc}"
        ) from None
    pp = merge_preprocess_dict(PreprocessCfg(), preprocess_cfg or {})
    pp["size"] = model.visual.image_size
    set_model_preprocess_cfg(model, pp)
    pp = get_model_preprocess_cfg(model)
    return EmbeddingModel(
        model=model,
        preprocess=_transform(pp),
        tokenizer=_tokenizer_for(saved_cfg),
        model_cfg=saved_cfg,
        preprocess_cfg=_jsonable(pp),
    )


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj))


def _state_dict_for_safetensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A state dict safetensors accepts: contiguous, and no two keys sharing storage.

    Tied tensors are written under every name as separate copies, because open_clip's loader
    loads strictly and would reject a file where the duplicates were dropped.
    """
    seen: set[tuple[int, int]] = set()
    out = {}
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu()
        key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        if key in seen or not t.is_contiguous():
            t = t.contiguous().clone()
        else:
            seen.add(key)
        out[name] = t
    return out


def save_checkpoint(model: EmbeddingModel, out_dir: Path) -> None:
    """Write ``model`` in open_clip's hub layout (config JSON + one safetensors file)."""
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(
        _state_dict_for_safetensors(model.model),
        str(out_dir / WEIGHTS_NAME),
        metadata={"format": "pt", "library": "open_clip"},
    )
    config = {"model_cfg": model.model_cfg, "preprocess_cfg": model.preprocess_cfg}
    (out_dir / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def _resolve_spec(spec: str) -> str:
    """Turn a plain folder path into open_clip's ``local-dir:`` schema; check it early."""
    if spec.startswith(LOCAL_PREFIX):
        path = Path(spec[len(LOCAL_PREFIX) :])
    elif spec.startswith(HUB_PREFIX):
        return spec
    elif Path(spec).expanduser().is_dir() or spec.startswith(("/", "./", "../", "~")):
        path = Path(spec).expanduser()
    else:
        return spec  # an architecture name
    if not path.is_dir():
        raise ConfigError(f"open_clip checkpoint folder {path} does not exist")
    for name in (CONFIG_NAME,):
        if not (path / name).is_file():
            raise ConfigError(
                f"{path}: not an open_clip checkpoint folder: {name} is missing "
                f"(expected {CONFIG_NAME} and {WEIGHTS_NAME})"
            )
    if not any(path.glob("*.safetensors")):
        raise ConfigError(f"{path}: no .safetensors weights next to {CONFIG_NAME}")
    return LOCAL_PREFIX + str(path.resolve())


def load_model(
    spec: str,
    pretrained: str | None = None,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
) -> EmbeddingModel:
    """Load an open_clip model by architecture name + tag, ``hf-hub:org/name`` or a folder.

    Folders and hub repos must be in open_clip's hub layout (see :func:`save_checkpoint`).
    """
    import open_clip
    from open_clip.model import get_model_preprocess_cfg

    resolved = _resolve_spec(spec)
    schema = (
        resolved.split(":", 1)[0] + ":" if resolved.startswith((LOCAL_PREFIX, HUB_PREFIX)) else ""
    )
    if schema and pretrained:
        raise ConfigError(
            f"pretrained={pretrained!r} is only valid with an open_clip architecture name; "
            f"{spec!r} carries its own weights"
        )
    try:
        model_cfg = open_clip.get_model_config(resolved)
        if model_cfg is None:
            raise ConfigError(
                f"open_clip model {spec!r}: not a checkpoint folder, not 'hf-hub:org/name' and "
                f"not an open_clip architecture name (e.g. "
                f"{', '.join(open_clip.list_models()[:8])}; see open_clip.list_models())"
            )
        model, _, preprocess = open_clip.create_model_and_transforms(
            resolved,
            pretrained=pretrained,
            device=device,
            precision=precision,
            weights_only=True,
            require_pretrained=bool(schema) or bool(pretrained),
        )
        tokenizer = open_clip.get_tokenizer(resolved)
    except ConfigError:
        raise
    except Exception as exc:
        # Running out of memory is not a bad config: let it through as what it is.
        if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
            raise
        raise ConfigError(
            f"cannot load open_clip model {spec!r} (pretrained={pretrained!r}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return EmbeddingModel(
        model=model,
        preprocess=preprocess,
        tokenizer=tokenizer,
        model_cfg=model_cfg,
        preprocess_cfg=_jsonable(get_model_preprocess_cfg(model)),
    )

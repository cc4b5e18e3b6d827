"""mergekit's YAML merge configuration, run by regionadapt's engine.

``regionadapt merge --config merge.yaml --output OUT`` takes what ``mergekit-yaml merge.yaml
OUT`` takes for the methods both tools have: ``models`` (each with ``parameters``),
``merge_method``, ``base_model``, global ``parameters``, ``dtype`` / ``out_dtype`` and
``tokenizer_source`` (``base`` or a model). Parameter values may be scalars, gradients (lists,
interpolated over the layers as mergekit does) or ``filter`` conditions on tensor names.
Everything else (``slices``, ``modules``, ``tokenizer``, ``chat_template``, other methods,
``+lora`` references) is refused naming the key, before anything is read.

Models are local folders (relative to the current directory, as for mergekit) or Hugging Face
Hub ids, fetched with ``huggingface_hub`` (weights, configs, tokenizer files).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regionadapt.errors import ConfigError

# mergekit name -> (regionadapt name, per-model parameters, shared parameters with mergekit's
# defaults). Parameters with a None default are required, as in mergekit.
METHODS: dict[str, tuple[str, tuple[str, ...], dict[str, Any]]] = {
    "linear": ("linear", ("weight",), {"normalize": True}),
    "task_arithmetic": (
        "task-arithmetic",
        ("weight",),
        {"normalize": False, "lambda": 1.0, "int8_mask": False, "rescale": False},
    ),
    "ties": (
        "ties",
        ("weight", "density"),
        {"normalize": True, "lambda": 1.0, "int8_mask": False, "rescale": False},
    ),
    "dare_ties": (
        "dare-ties",
        ("weight", "density"),
        {"normalize": False, "lambda": 1.0, "int8_mask": False, "rescale": True},
    ),
    "dare_linear": (
        "dare-linear",
        ("weight", "density"),
        {"normalize": False, "lambda": 1.0, "int8_mask": False, "rescale": True},
    ),
    "slerp": ("slerp", (), {"t": None}),
}
MODEL_DEFAULTS = {"weight": None, "density": 1.0}
TOP_KEYS = {"models", "merge_method", "base_model", "parameters", "dtype", "out_dtype",
            "tokenizer_source"}  # fmt: skip
REFUSED_KEYS = {
    "slices": "layer slices (frankenmerges) are not supported; use `models:`",
    "modules": "per-module definitions are not supported; use `models:`",
    "tokenizer": "building a merged vocabulary is not supported; use tokenizer_source: base",
    "chat_template": "setting a chat template is not supported",
}
DTYPES = {"float32": "float32", "fp32": "float32", "float": "float32", "bfloat16": "bfloat16",
          "bf16": "bfloat16", "float16": "float16", "fp16": "float16", "half": "float16",
          "float64": "float64"}  # fmt: skip
LAYER = re.compile(r"(?:^|\.)(?:layers|h|blocks|layer)\.(\d+)\.")


@dataclass
class Plan:
    """A mergekit config translated (model references not yet resolved to folders)."""

    mergekit_method: str
    method: str  # regionadapt's name
    models: list[str]  # in regionadapt's order (SLERP: [base, other]; no base for task vectors)
    base: str | None  # passed as base= (task-vector methods)
    dtype: str | None
    tokenizer_source: str | None
    shared: dict[str, Any] = field(default_factory=dict)  # settings, unevaluated
    per_model: list[dict[str, Any]] = field(default_factory=list)


def _err(path: Path, key: str, msg: str) -> ConfigError:
    return ConfigError(f"{path}: {key}: {msg}")


def _model_ref(path: Path, key: str, value: Any) -> str:
    if isinstance(value, Mapping):
        raise _err(path, key, "model references as mappings are not supported; give a string")
    if not isinstance(value, str) or not value:
        raise _err(path, key, f"expected a model path or Hub id, got {value!r}")
    if "+" in value:
        raise _err(path, key, f"{value!r}: LoRA references (model+lora) are not supported")
    return value


def _check_setting(path: Path, key: str, value: Any) -> None:
    """A scalar, a gradient (list of scalars) or filter conditions, as mergekit accepts."""
    scalar = (bool, int, float, str)
    if isinstance(value, scalar):
        return
    if isinstance(value, Mapping):
        value = [value]
    if isinstance(value, list):
        if all(isinstance(v, scalar) for v in value):
            return
        for i, cond in enumerate(value):
            if not isinstance(cond, Mapping) or "value" not in cond:
                raise _err(path, f"{key}[{i}]", "expected a scalar, a list or {filter, value}")
            unknown = set(cond) - {"filter", "value"}
            if unknown:
                raise _err(path, f"{key}[{i}].{sorted(unknown)[0]}", "unknown key")
            _check_setting(path, f"{key}[{i}].value", cond["value"])
        return
    raise _err(path, key, f"expected a number, a list or filter conditions, got {value!r}")


def read(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping (a mergekit merge configuration)")
    return data


def translate(path: Path, data: dict[str, Any]) -> Plan:
    """Check a mergekit config and translate it; every refusal names the key."""
    for key in data:
        if key in REFUSED_KEYS:
            raise _err(path, key, REFUSED_KEYS[key])
        if key not in TOP_KEYS:
            raise _err(path, key, f"unknown key (supported: {', '.join(sorted(TOP_KEYS))})")
    name = data.get("merge_method")
    if name not in METHODS:
        got = "required" if name is None else f"{name!r} is not supported by regionadapt"
        raise _err(path, "merge_method", f"{got}; supported: {', '.join(METHODS)}")
    ours, model_keys, shared_defaults = METHODS[name]
    models = data.get("models")
    if not isinstance(models, list) or not models:
        raise _err(path, "models", "required: a list of {model, parameters}")
    if not isinstance(data.get("parameters") or {}, Mapping):
        raise _err(path, "parameters", "expected a mapping")
    shared = dict(data.get("parameters") or {})
    for key, value in shared.items():
        if key not in shared_defaults and key not in model_keys:
            raise _err(path, f"parameters.{key}", f"not a parameter of {name}")
        _check_setting(path, f"parameters.{key}", value)
    base_ref = data.get("base_model")
    if base_ref is not None:
        base_ref = _model_ref(path, "base_model", base_ref)
    refs, per_model = [], []
    for i, entry in enumerate(models):
        where = f"models[{i}]"
        if not isinstance(entry, Mapping) or "model" not in entry:
            raise _err(path, where, "expected {model: ..., parameters: ...}")
        for key in entry:
            if key not in ("model", "parameters"):
                raise _err(path, f"{where}.{key}", "unknown key")
        ref = _model_ref(path, f"{where}.model", entry["model"])
        params = dict(entry.get("parameters") or {})
        for key, value in params.items():
            if key not in model_keys:
                scope = "a shared parameter: put it in the top-level parameters" if (
                    key in shared_defaults) else f"not a per-model parameter of {name}"  # fmt: skip
                raise _err(path, f"{where}.parameters.{key}", scope)
            _check_setting(path, f"{where}.parameters.{key}", value)
        refs.append(ref)
        per_model.append(params)
    return _order_models(path, name, ours, refs, per_model, base_ref, shared, data)


def _order_models(path, name, ours, refs, per_model, base_ref, shared, data) -> Plan:
    from regionadapt.plugins import registry

    cls = registry("merge_methods").get(ours)
    if cls.needs_base:
        if base_ref is None:
            raise _err(path, "base_model", f"required by {name}")
        keep = [i for i, r in enumerate(refs) if r != base_ref]  # mergekit skips the base
        refs, per_model = [refs[i] for i in keep], [per_model[i] for i in keep]
    elif name == "slerp":
        if base_ref is None:
            raise _err(path, "base_model", "required by slerp (t = 0 gives the base model)")
        others = [r for r in refs if r != base_ref]
        if len(others) != 1:
            raise _err(path, "models", "slerp takes the base model and exactly one other")
        refs, per_model = [base_ref, others[0]], [{}, {}]
    elif base_ref is not None and base_ref not in refs:
        raise _err(path, "base_model", f"{name} uses no base model; list it in models instead")
    if not refs:
        raise _err(path, "models", "no model to merge besides the base model")
    dtype = data.get("out_dtype") or data.get("dtype")
    if dtype is not None and DTYPES.get(str(dtype).removeprefix("torch.")) is None:
        key = "out_dtype" if data.get("out_dtype") else "dtype"
        raise _err(path, key, f"{dtype!r}: expected one of {', '.join(sorted(DTYPES))}")
    tok = data.get("tokenizer_source")
    if tok == "union":
        raise _err(path, "tokenizer_source", "'union' (a merged vocabulary) is not supported")
    if tok is not None and tok != "base":
        tok = _model_ref(path, "tokenizer_source", tok)
    if tok == "base" and base_ref is None:
        raise _err(path, "tokenizer_source", "'base' needs base_model")
    _check_shared(path, name, shared)
    return Plan(
        mergekit_method=name,
        method=ours,
        models=refs,
        base=base_ref if cls.needs_base else None,
        dtype=DTYPES[str(dtype).removeprefix("torch.")] if dtype is not None else None,
        tokenizer_source=base_ref if tok == "base" else tok,
        shared=shared,
        per_model=per_model,
    )


def _check_shared(path: Path, name: str, shared: dict[str, Any]) -> None:
    _, _, defaults = METHODS[name]
    rescale = shared.get("rescale", defaults.get("rescale"))
    if name == "ties" and rescale is True:
        raise _err(path, "parameters.rescale", "TIES with an L1 rescale is not supported")
    if name.startswith("dare") and rescale is False:
        raise _err(
            path,
            "parameters.rescale",
            "DARE without rescaling is not supported (regionadapt rescales kept deltas by "
            "1 / (1 - drop rate), as the paper)",
        )

"""Evaluating mergekit parameter settings per tensor, as mergekit does.

A setting is a scalar, a gradient (a list: numbers are interpolated linearly over the layers,
other values picked by position) or filter conditions (``{filter, value}``: the first whose
filter is empty, ``*`` or a substring of the tensor name applies). For a tensor in layer i of
N (``...layers.i...``), ``t = i / (N - 1)`` (1 when N = 1); tensors outside the layers (the
embeddings, the final norm, the head) take ``t = 0``, as in mergekit's ``models:`` syntax.
A model's own setting wins over the global one; then mergekit's default applies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from regionadapt.errors import MergeError
from regionadapt.merge.mergekit_config import LAYER, METHODS, MODEL_DEFAULTS, Plan
from regionadapt.merge.plan import TensorSetting

SCALARS = (bool, int, float, str)


def evaluate(setting: Any, tensor: str, t: float) -> Any:
    """The value of one setting for ``tensor`` at layer position ``t`` (None: no match)."""
    if setting is None or isinstance(setting, SCALARS):
        return setting
    if isinstance(setting, Mapping):
        setting = [setting]
    if not setting:
        return None
    if all(isinstance(v, SCALARS) for v in setting):
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in setting)
        if not numeric:
            return setting[int(t * (len(setting) - 1))]
        scaled = t * (len(setting) - 1)
        i0 = int(scaled)
        i1 = min(len(setting) - 1, i0 + 1)
        frac = scaled - i0
        return (1 - frac) * float(setting[i0]) + frac * float(setting[i1])
    for cond in setting:
        f = cond.get("filter")
        if f is None or f == "*" or (tensor and f in tensor):
            return evaluate(cond["value"], tensor, t)
    return None


def is_constant(plan: Plan) -> bool:
    """True when no setting depends on the tensor (no gradients, no filters)."""
    settings = list(plan.shared.values()) + [v for m in plan.per_model for v in m.values()]
    return all(isinstance(v, SCALARS) for v in settings)


def layer_positions(names: Iterable[str]) -> dict[str, float]:
    """Tensor name -> t: i / (N - 1) for layer i of N, 0 outside the layers."""
    names = list(names)
    layer = {n: int(m.group(1)) for n in names if (m := LAYER.search(n))}
    count = max(layer.values(), default=-1) + 1
    return {
        n: ((layer[n] / (count - 1) if count > 1 else 1.0) if n in layer else 0.0) for n in names
    }


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise MergeError(f"{where}: expected a number, got {value!r}") from None
    return float(value)


def setting_for(plan: Plan, tensor: str, t: float) -> TensorSetting:
    """Translate mergekit's parameters for one tensor into regionadapt's."""
    _, model_keys, defaults = METHODS[plan.mergekit_method]
    shared = {}
    for key, default in defaults.items():
        value = evaluate(plan.shared.get(key), tensor, t)
        if value is None:
            if default is None:
                raise MergeError(f"parameters.{key}: required by {plan.mergekit_method}")
            value = default
        shared[key] = value
    per_model = []
    for i, own in enumerate(plan.per_model):
        values = {}
        for key in model_keys:
            value = evaluate(own.get(key), tensor, t)
            if value is None:
                value = evaluate(plan.shared.get(key), tensor, t)
            if value is None:
                value = MODEL_DEFAULTS[key]
            if value is None:
                raise MergeError(
                    f"model {plan.models[i]!r}: parameters.{key}: required by "
                    f"{plan.mergekit_method} (mergekit has no default)"
                )
            values[key] = _number(value, f"model {plan.models[i]!r}: parameters.{key}")
        per_model.append(values)
    return _ours(plan, shared, per_model)


def _ours(plan: Plan, shared: dict[str, Any], per_model: list[dict[str, float]]) -> TensorSetting:
    name = plan.mergekit_method
    if name == "slerp":
        return TensorSetting({"t": shared["t"]})
    params = {"normalize": shared["normalize"]}
    if name != "linear":
        params["lambda"] = shared["lambda"]
    weights = [m["weight"] for m in per_model]
    if name == "ties":
        return TensorSetting(params, weights, [{"density": m["density"]} for m in per_model])
    if name.startswith("dare"):
        drops = [{"drop_rate": 1.0 - m["density"]} for m in per_model]
        return TensorSetting(params, weights, drops)
    return TensorSetting(params, weights)

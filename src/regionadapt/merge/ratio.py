"""How a sweep's merge ratio b (0 = the base, 1 = the tuned model) maps onto each method.

GG-EZ sweeps one number b. Methods with per-model weights take ``[b, 1 - b]`` for
``[tuned, base]``; methods without them map b onto their interpolation parameter (SLERP's
``t``) or their task-vector scale (``lambda``). Each method declares which in its ``ratio``
class attribute; :func:`ratio_merge_args` turns that into the arguments of
:func:`regionadapt.merge.merge_checkpoints` and a human string to record in the curve.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from regionadapt.errors import MergeError


def ratio_merge_args(
    method_name: str,
    b: float,
    params: Mapping[str, Any] | None = None,
    *,
    tuned: Path | None = None,
    base: Path | None = None,
) -> dict[str, Any]:
    """Arguments merging ``tuned`` and ``base`` at ratio b with ``method_name``.

    Returns ``models``, ``base``, ``weights``, ``params`` (pass them to ``merge_checkpoints``)
    and ``mapping``, e.g. ``"t = b"``. b = 0 gives the base and b = 1 the tuned model for
    every method (exactly for linear and SLERP; task-vector methods give base + b * their
    merged delta). A parameter the sweep sets may not also be fixed in ``params``.
    """
    from regionadapt.merge.engine import get_method

    params = dict(params or {})
    cls = type(get_method(method_name, params))
    if not 0.0 <= b <= 1.0:
        raise MergeError(f"merge ratio b must lie in [0, 1] (got {b})")
    how = cls.ratio
    if how == "weights":
        return {
            "models": [tuned, base],
            "base": base if cls.needs_base else None,
            "weights": [b, 1.0 - b],
            "params": params,
            "mapping": "weights = [b, 1 - b] for [tuned, base]",
        }
    if not how:
        raise MergeError(
            f"merge method {method_name!r} has no merge ratio to sweep (choose e.g. 'linear')"
        )
    if how in params:
        raise MergeError(
            f"merge params: {how}: set by the sweep ({how} = b); remove it from the params"
        )
    if cls.needs_base:  # task vectors: base + b * (merged delta of the tuned model)
        return {
            "models": [tuned],
            "base": base,
            "weights": None,
            "params": {**params, how: b},
            "mapping": f"{how} = b, models [tuned] on base",
        }
    return {  # an interpolation parameter from models[0] (b = 0) to models[1] (b = 1)
        "models": [base, tuned],
        "base": None,
        "weights": None,
        "params": {**params, how: b},
        "mapping": f"{how} = b, from base (b = 0) to tuned (b = 1)",
    }

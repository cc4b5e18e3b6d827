"""Spherical linear interpolation between two models, tensor by tensor (as mergekit)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from regionadapt.merge import MergeMethod
from regionadapt.schema import Strict


class SlerpParams(Strict):
    t: float = Field(0.5, ge=0, le=1, description="0 gives models[0], 1 gives models[1]")
    dot_threshold: float = Field(
        0.9995, gt=0, le=1, description="|cos| above which the vectors count as parallel (lerp)"
    )


def slerp(t: float, v0, v1, dot_threshold: float = 0.9995, eps: float = 1e-8):
    """Interpolate along the great circle between the flattened tensors.

    The angle comes from the normalised vectors; the coefficients are applied to the raw ones
    (so norms interpolate linearly along the arc). Nearly parallel or antiparallel vectors
    (|cos| > dot_threshold) fall back to linear interpolation, where slerp is ill-conditioned.
    """
    import math

    import torch

    dtype = torch.float64 if v0.dtype == torch.float64 else torch.float32
    a = v0.reshape(-1).to(dtype)
    b = v1.reshape(-1).to(dtype)
    if a.numel() == 0:
        return v0.clone()
    na = torch.linalg.vector_norm(a)
    nb = torch.linalg.vector_norm(b)
    na = na if na > eps else torch.ones_like(na)
    nb = nb if nb > eps else torch.ones_like(nb)
    dot = float(((a / na) * (b / nb)).sum().clamp(-1, 1))
    if abs(dot) > dot_threshold:
        return torch.lerp(a, b, t).reshape(v0.shape)
    theta = math.acos(dot)
    s = math.sin(theta)
    ca = math.sin((1 - t) * theta) / s
    cb = math.sin(t * theta) / s
    return (ca * a + cb * b).reshape(v0.shape)


class Slerp(MergeMethod):
    name = "slerp"
    description = (
        "Spherical linear interpolation between exactly two models with parameter t: each "
        "tensor moves along the arc between the two (flattened) tensors instead of the chord. "
        "Falls back to linear interpolation when they are nearly parallel."
    )
    reference_url = "https://en.wikipedia.org/wiki/Slerp"
    Params = SlerpParams
    min_models: ClassVar[int] = 2
    max_models: ClassVar[int | None] = 2
    takes_weights: ClassVar[bool] = False
    half_as_float32: ClassVar[bool] = True  # slerp() computes in float32 anyway
    # a sweep sets t = b with the models ordered [base, tuned]: b = 0 is the base exactly
    ratio: ClassVar[str] = "t"

    def merge_tensor(self, tensors, weights, base, key, generator):
        p = self.params
        return slerp(p.t, tensors[0], tensors[1], p.dot_threshold)

"""Weighted averages of whole models: linear (WiSE-FT) and the uniform model soup."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from regionadapt.merge import MergeMethod
from regionadapt.schema import Strict


class LinearParams(Strict):
    normalize: bool = Field(
        True,
        description="divide by the sum of the weights (as mergekit), so they need not sum to 1",
    )


def weighted_average(tensors: list[Any], weights: list[float], normalize: bool) -> Any:
    import torch

    if sum(weights) == 0:
        raise ValueError("the weights sum to zero")
    if len(tensors) == 2 and (normalize or abs(sum(weights) - 1.0) < 1e-12):
        # lerp(start, end, w): w=0 returns start exactly, w=1 end exactly, and it runs in the
        # input dtype with float internal precision (one rounding), at memory speed.
        w = weights[0] / sum(weights) if normalize else weights[0]
        return torch.lerp(tensors[1], tensors[0], w)
    acc_dtype = torch.float64 if tensors[0].dtype == torch.float64 else torch.float32
    acc = torch.zeros(tensors[0].shape, dtype=acc_dtype)
    for t, w in zip(tensors, weights, strict=True):
        acc.add_(t.to(acc_dtype), alpha=w)
    if normalize:
        acc.div_(sum(weights))
    return acc


class Linear(MergeMethod):
    name = "linear"
    description = (
        "Weighted average of the models' parameters, sum(w_i * theta_i) / sum(w_i). With two "
        "models [tuned, base] and weights [b, 1 - b] this is WiSE-FT / GG-EZ's merge: "
        "b = 0 gives the base exactly, b = 1 the tuned model exactly. Weights must be >= 0; "
        "with normalize = false they are used as given."
    )
    reference_url = "https://arxiv.org/abs/2109.01903"
    Params = LinearParams
    min_models = 1

    def resolve_weights(self, weights, n_models):
        out = super().resolve_weights(weights, n_models)
        if self.params.normalize and sum(out) <= 0:
            from regionadapt.errors import MergeError

            raise MergeError(f"merge method {self.name!r}: the weights sum to zero")
        return out

    def merge_tensor(self, tensors, weights, base, key, generator):
        return weighted_average(tensors, weights, self.params.normalize)


class Soup(MergeMethod):
    name = "soup"
    description = (
        "Uniform model soup: the plain mean of N fine-tuned models of one architecture that "
        "started from the same initialisation. Takes no weights; use 'linear' for weighted "
        "averages."
    )
    reference_url = "https://arxiv.org/abs/2203.05482"
    takes_weights: ClassVar[bool] = False
    ratio: ClassVar[str] = ""  # a uniform mean has no ratio to sweep
    min_models = 1

    def merge_tensor(self, tensors, weights, base, key, generator):
        return weighted_average(tensors, [1.0] * len(tensors), True)

"""Task-vector methods: task arithmetic, TIES, DARE (linear and with TIES).

Each works on deltas tau_i = theta_i - theta_base. The arithmetic follows mergekit's
generalized task arithmetic step for step (stacked deltas, weights applied before sign
election, disjoint sum divided by the sum of agreeing weights), so outputs match it; half
precision inputs are computed in float32 and rounded once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import Field

from regionadapt.merge import MergeMethod
from regionadapt.schema import Strict
from regionadapt_plugins.merge_methods.topk import top_k_like_mergekit

LAMBDA = Field(1.0, alias="lambda", description="scale applied to the merged task vector")


class TaskArithmeticParams(Strict):
    lambda_: float = LAMBDA
    normalize: bool = Field(False, description="divide the weighted sum by the sum of weights")


class TiesParams(Strict):
    density: float = Field(
        0.2, gt=0, le=1, description="fraction of each task vector kept (largest magnitudes)"
    )
    lambda_: float = LAMBDA
    normalize: bool = Field(True, description="disjoint mean: divide by the agreeing weights")
    tie_break: Literal["mergekit", "index"] = Field(
        "mergekit",
        description=(
            "which of several equal magnitudes at the density cut-off are kept: 'mergekit' "
            "reproduces mergekit's top-k exactly (a full sort when such ties exist); 'index' "
            "keeps the lowest indices (no sort; faster on bfloat16 checkpoints)"
        ),
    )


class DareLinearParams(Strict):
    drop_rate: float = Field(
        0.5, ge=0, lt=1, description="probability p of dropping each delta; kept ones x 1/(1-p)"
    )
    lambda_: float = LAMBDA
    normalize: bool = Field(False, description="divide the weighted sum by the sum of weights")


class DareTiesParams(DareLinearParams):
    pass


def _work(t: Any) -> Any:
    import torch

    return t if t.dtype in (torch.float32, torch.float64) else t.float()


def magnitude_trim(
    delta: Any, density: float, tie_break: str = "mergekit", inplace: bool = False
) -> Any:
    """Keep the ``k = max(1, int(density * n))`` largest |delta| (mergekit's top-k), zero the rest.

    ``tie_break='mergekit'`` selects exactly what mergekit's ``argsort`` selects, equal
    magnitudes at the cut-off included, without the full sort (see :mod:`.topk`);
    ``'index'`` keeps the lowest indices among such ties (a k-th value threshold).
    ``inplace``: zero the dropped entries of ``delta`` itself (a fresh tensor of the caller's).
    """
    import torch

    n = delta.numel()
    if density >= 1:
        return delta
    if n == 0:
        return torch.zeros_like(delta)
    k = max(1, int(density * n))
    if tie_break == "mergekit":
        keep = top_k_like_mergekit(delta.reshape(-1), k)
    else:
        w = delta.abs().reshape(-1)
        keep = _top_k_lowest_index(w if w.dtype == torch.float64 else w.float(), k)
        del w
    keep = keep.reshape(delta.shape)
    # d * 1 and d * 0 as mergekit computes them (a dropped -x gives -0.0, as there)
    return delta.mul_(keep) if inplace else delta * keep.to(delta.dtype)


def _top_k_lowest_index(w: Any, k: int) -> Any:
    """The k largest of ``w``; among equal values at the cut-off, the lowest indices."""
    import torch

    thr = torch.kthvalue(w, w.numel() - k + 1).values
    if thr == 0:
        return w > 0  # kept zeros would stay zero: the result is the same either way
    keep = w >= thr
    surplus = int(keep.sum()) - k
    if surplus:  # equal magnitudes straddle the cut-off: drop the highest-index ones
        equal = w == thr
        ranks = torch.cumsum(equal.flip(0).to(torch.int32), 0).flip(0)
        keep &= ~(equal & (ranks <= surplus))
    return keep


def dare_drop(delta: Any, drop_rate: float, generator: Any) -> Any:
    """DARE: drop each entry with probability p, rescale survivors by 1/(1-p) (unbiased)."""
    import torch

    if drop_rate == 0:
        return delta
    keep = torch.rand(delta.shape, generator=generator) >= drop_rate
    return torch.where(keep, delta / (1.0 - drop_rate), torch.zeros((), dtype=delta.dtype))


def merge_task_vectors(
    tensors: list[Any],
    weights: list[float],
    base: Any,
    *,
    lam: float,
    normalize: bool,
    consensus: bool,
    sparsify: Callable[[Any, int], Any] | None = None,
    reuse_inputs: bool = False,
) -> Any:
    """mergekit's GeneralizedTaskArithmeticMerge.merge_group, one tensor at a time.

    ``sparsify(delta, i)`` may modify ``delta`` in place (a fresh tensor). ``reuse_inputs``:
    the tensors are the caller's to overwrite (the engine's fresh buffers), so each delta is
    computed in its model's tensor instead of a new one."""
    base_w = _work(base)
    deltas = []
    for i, t in enumerate(tensors):
        w = _work(t)
        own = w is not t or reuse_inputs  # a fresh float copy, or the caller's to overwrite
        delta = w.sub_(base_w) if own and w.dtype == base_w.dtype else w - base_w
        del w
        deltas.append(sparsify(delta, i) if sparsify is not None else delta)
        del delta
    if len(deltas) == 1:
        mixed = _single(deltas.pop(), weights[0], normalize, consensus)
    else:
        mixed = _group(deltas, weights, normalize, consensus)
    if lam != 1:
        mixed *= lam
    return mixed.add_(base_w)  # = base + mixed (addition commutes bit for bit)


def _group(deltas: list[Any], weights: list[float], normalize: bool, consensus: bool) -> Any:
    import torch

    stacked = torch.stack(deltas)
    deltas.clear()
    wt = torch.tensor(weights, dtype=stacked.dtype)
    while stacked.dim() > wt.dim():
        wt.unsqueeze_(-1)
    stacked.mul_(wt)
    if consensus:
        sign = stacked.sign()
        majority = (stacked.sum(dim=0) >= 0).to(stacked.dtype) * 2 - 1
        mask = sign == majority
        del sign
        mixed = (stacked * mask).sum(dim=0)
        divisor = (wt * mask).sum(dim=0)
        divisor[divisor == 0] = 1
    else:
        mixed = stacked.sum(dim=0)
        divisor = wt.sum(dim=0)
        divisor[divisor.abs() < 1e-8] = 1
    del stacked
    if normalize:
        mixed /= divisor
    return mixed


def _single(m: Any, weight: float, normalize: bool, consensus: bool) -> Any:
    """``_group`` for one model, in place and without the stack, sign and mask passes; the
    same bits. With one delta m = w * d the sign election keeps every non-zero entry, the
    masked sum is m itself, and the divisor is w where m != 0 and 1 elsewhere, so m / w
    (zeros and NaN stay as they are; consensus weights are >= 0)."""
    import torch

    w = torch.tensor(weight, dtype=m.dtype)  # mergekit's float32 weight tensor
    if w != 1:
        m.mul_(w)
    m.add_(0.0)  # the sum over one model is 0 + m: -0.0 becomes +0.0 there too
    if normalize:
        use = (w != 0) if consensus else (w.abs() >= 1e-8)
        if use and w != 1:
            m.div_(w)
    return m


class _TaskVectorMethod(MergeMethod):
    """The task-vector family differs only in how each delta is sparsified and whether signs
    are elected (``consensus``): one ``merge_tensor`` for all of them."""

    needs_base: ClassVar[bool] = True
    default_weights: ClassVar[str] = "one"
    consensus: ClassVar[bool] = False
    half_as_float32: ClassVar[bool] = True  # mergekit's dtype: float32 arithmetic
    # a sweep scales the task vector: base + b * (merged delta); b = 0 is the base exactly
    ratio: ClassVar[str] = "lambda"

    def sparsify(self, delta: Any, i: int, generator: Any) -> Any:
        """Sparsify model i's delta (its own parameters: ``self.model_params(i)``)."""
        return delta

    def merge_tensor(self, tensors, weights, base, key, generator):
        p = self.params
        return merge_task_vectors(
            tensors,
            weights,
            base,
            lam=p.lambda_,
            normalize=p.normalize,
            consensus=self.consensus,
            sparsify=lambda d, i: self.sparsify(d, i, generator),
            reuse_inputs=self.may_overwrite_inputs,
        )


class TaskArithmetic(_TaskVectorMethod):
    name = "task-arithmetic"
    description = (
        "Task arithmetic: theta = base + lambda * sum_i w_i (theta_i - base). Adds (or, with "
        "negative weights, subtracts) what fine-tuning taught each model. Weights default to "
        "1 each; normalize = true divides by their sum."
    )
    reference_url = "https://arxiv.org/abs/2212.04089"
    Params = TaskArithmeticParams
    allow_negative_weights: ClassVar[bool] = True


class Ties(_TaskVectorMethod):
    name = "ties"
    description = (
        "TIES-merging: trim each task vector to its largest-magnitude fraction `density`, "
        "elect a sign per parameter from the sum of weighted trimmed deltas, then take the "
        "disjoint mean of the deltas that agree with it. Reduces interference between models. "
        "Trimming matches mergekit's top-k, tie-breaking included."
    )
    reference_url = "https://arxiv.org/abs/2306.01708"
    Params = TiesParams
    consensus: ClassVar[bool] = True

    per_model_params: ClassVar[tuple[str, ...]] = ("density",)

    def sparsify(self, delta, i, generator):
        return magnitude_trim(
            delta, self.model_params(i).density, self.params.tie_break, inplace=True
        )


class DareLinear(_TaskVectorMethod):
    name = "dare-linear"
    description = (
        "DARE with a linear combination: drop each delta entry with probability drop_rate and "
        "rescale the rest by 1/(1 - drop_rate), so each task vector is preserved in "
        "expectation, then add the weighted sum to the base. Seeded per tensor: a fixed seed "
        "reproduces the output exactly."
    )
    reference_url = "https://arxiv.org/abs/2311.03099"
    Params = DareLinearParams
    stochastic: ClassVar[bool] = True
    allow_negative_weights: ClassVar[bool] = True

    per_model_params: ClassVar[tuple[str, ...]] = ("drop_rate",)

    def sparsify(self, delta, i, generator):
        return dare_drop(delta, self.model_params(i).drop_rate, generator)


class DareTies(DareLinear):
    name = "dare-ties"
    description = (
        "DARE-TIES: DARE's random drop with 1/(1 - drop_rate) rescale, then TIES' sign "
        "election and disjoint merge of the agreeing deltas. Seeded per tensor."
    )
    reference_url = "https://arxiv.org/abs/2311.03099"
    Params = DareTiesParams
    consensus: ClassVar[bool] = True
    allow_negative_weights: ClassVar[bool] = False

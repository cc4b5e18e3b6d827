"""The base class every merge method derives from, built-in or third-party.

A merge method only combines *one* tensor from several checkpoints; the engine
(:mod:`regionadapt.merge.engine`) streams every tensor of every checkpoint through it, so a new
method never deals with files, shards or dtypes on disk.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from regionadapt.components import Component, NoParams
from regionadapt.errors import ConfigError, MergeError
from regionadapt.schema import Strict, validate

if TYPE_CHECKING:
    import torch


class MergeMethod(Component):
    """One way of combining tensors. Subclasses set the class attributes and ``merge_tensor``.

    ``merge_tensor`` receives the inputs in their stored dtype (or already converted to the
    output dtype when that is wider) and returns a floating tensor of the same shape; the engine
    casts it to the output dtype. It must not modify its inputs in place, unless
    ``self.may_overwrite_inputs`` is true: the engine sets it on the instances it builds, as it
    passes fresh buffers it does not reuse (overwriting them saves a tensor's worth of memory).
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    reference_url: ClassVar[str] = ""
    Params: ClassVar[type[Strict]] = NoParams
    # Task-vector methods work on differences to a base model, which must then be given.
    needs_base: ClassVar[bool] = False
    # Methods that draw random numbers get a torch.Generator seeded from (seed, tensor name),
    # so a fixed seed reproduces the output whatever the shard layout or tensor order.
    stochastic: ClassVar[bool] = False
    min_models: ClassVar[int] = 1
    max_models: ClassVar[int | None] = None
    # False: the method takes no per-model weights (uniform soup, SLERP's t parameter).
    takes_weights: ClassVar[bool] = True
    allow_negative_weights: ClassVar[bool] = False
    # Weight given to each model when the caller passes none: "uniform" = 1/N, "one" = 1.0.
    default_weights: ClassVar[str] = "uniform"
    # Fields of ``Params`` that may differ per model (mergekit's per-model ``parameters``),
    # e.g. TIES' density; read them in ``merge_tensor`` with ``self.model_params(i)``.
    per_model_params: ClassVar[tuple[str, ...]] = ()
    may_overwrite_inputs: bool = False
    # True: the method computes half-precision inputs in float32 anyway, so the engine hands
    # it float32 copies (and frees the half-precision buffers as it reads them).
    half_as_float32: ClassVar[bool] = False
    # How a sweep's ratio b (0 = base, 1 = tuned) maps onto this method: "weights" = the
    # per-model weights [b, 1 - b] of [tuned, base]; the name of a parameter = that parameter
    # set to b (SLERP's t, with the models ordered [base, tuned]); "" = no ratio.
    ratio: ClassVar[str] = "weights"

    def __init__(self, params: Mapping[str, Any] | None = None, *, where: str = "") -> None:
        try:
            super().__init__(params, where=where or f"merge method {self.name!r} params")
        except ConfigError as exc:
            raise MergeError(str(exc)) from None

    def bind_models(self, overrides: Sequence[Mapping[str, Any]] | None, n_models: int) -> None:
        """Validate per-model overrides of ``per_model_params`` (one mapping per model, over
        the method's own params); ``model_params(i)`` then returns model i's parameters."""
        self._per_model: list[Strict] | None = None
        if overrides is None:
            return
        if len(overrides) != n_models:
            raise MergeError(
                f"merge method {self.name!r}: parameters for {len(overrides)} model(s), "
                f"{n_models} model(s) given"
            )
        if any(overrides) and not self.per_model_params:
            raise MergeError(f"merge method {self.name!r} takes no per-model parameters")
        shared = self.params.model_dump(by_alias=True)
        per_model = []
        for i, over in enumerate(overrides):
            for key in over:
                if key not in self.per_model_params:
                    raise MergeError(
                        f"models[{i}].{key}: merge method {self.name!r} takes only "
                        f"{', '.join(self.per_model_params)} per model"
                    )
            where = f"models[{i}] params of merge method {self.name!r}"
            try:
                per_model.append(validate(self.Params, {**shared, **over}, where, ConfigError))
            except ConfigError as exc:
                raise MergeError(str(exc)) from None
        self._per_model = per_model

    def model_params(self, i: int) -> Any:
        """Model i's parameters: the method's params with that model's overrides."""
        per_model = getattr(self, "_per_model", None)
        return per_model[i] if per_model is not None else self.params

    def check_inputs(self, n_models: int, has_base: bool) -> None:
        """Refuse a model count or base the method cannot use, before anything is read."""
        if n_models < self.min_models:
            raise MergeError(
                f"merge method {self.name!r} needs at least {self.min_models} model(s), "
                f"got {n_models}"
            )
        if self.max_models is not None and n_models > self.max_models:
            raise MergeError(
                f"merge method {self.name!r} takes at most {self.max_models} model(s), "
                f"got {n_models}"
            )
        if self.needs_base and not has_base:
            raise MergeError(f"merge method {self.name!r} needs a base model (base=...)")
        if not self.needs_base and has_base:
            raise MergeError(
                f"merge method {self.name!r} does not use a base model; pass every checkpoint "
                f"in models instead"
            )

    def resolve_weights(self, weights: Sequence[float] | None, n_models: int) -> list[float]:
        """Check the per-model weights (count, finiteness, sign) and fill in the default."""
        if weights is None:
            return [1.0 / n_models if self.default_weights == "uniform" else 1.0] * n_models
        if not self.takes_weights:
            raise MergeError(f"merge method {self.name!r} takes no per-model weights")
        weights = [float(w) for w in weights]
        if len(weights) != n_models:
            raise MergeError(
                f"merge method {self.name!r}: {len(weights)} weight(s) for {n_models} model(s)"
            )
        for i, w in enumerate(weights):
            if not math.isfinite(w):
                raise MergeError(f"merge method {self.name!r}: weight {i} is not finite ({w})")
            if w < 0 and not self.allow_negative_weights:
                raise MergeError(
                    f"merge method {self.name!r}: weight {i} is negative ({w}); this method "
                    f"needs weights >= 0"
                )
        return weights

    def merge_tensor(
        self,
        tensors: list[torch.Tensor],
        weights: list[float],
        base: torch.Tensor | None,
        key: str,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        raise NotImplementedError

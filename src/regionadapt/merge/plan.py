"""Which method instance and which weights merge each tensor.

Usually one instance for every tensor. A mergekit config may vary parameters by tensor name
(``filter:``) or by layer (gradients): then a resolver says, per tensor, what the parameters
are, and one instance is built (and validated) per distinct set. Every tensor is resolved
before anything is written, so a bad value is refused with nothing on disk.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from regionadapt.errors import MergeError
from regionadapt.merge.method import MergeMethod


@dataclass(frozen=True)
class TensorSetting:
    """The parameters for one tensor: shared params, per-model weights and per-model params."""

    params: Mapping[str, Any]
    weights: Sequence[float] | None = None
    model_params: Sequence[Mapping[str, Any]] | None = None


Resolver = Callable[[str, str], TensorSetting]  # (weight file, tensor name) -> its setting


class MethodPlan:
    def __init__(
        self,
        build: Callable[[Mapping[str, Any]], MergeMethod],
        setting: TensorSetting,
        n_models: int,
        has_base: bool,
        resolver: Resolver | None = None,
    ) -> None:
        self._build = build
        self._n = n_models
        self._has_base = has_base
        self._resolver = resolver
        self._cache: dict[str, tuple[MergeMethod, list[float]]] = {}
        self._lock = threading.Lock()
        self.default = self._instance(setting)

    def _instance(self, setting: TensorSetting) -> tuple[MergeMethod, list[float]]:
        key = json.dumps(
            [setting.params, setting.weights, setting.model_params], sort_keys=True, default=str
        )
        with self._lock:
            hit = self._cache.get(key)
            if hit is None:
                impl = self._build(setting.params)
                impl.may_overwrite_inputs = True  # the engine's buffers are fresh, see MergeMethod
                impl.check_inputs(self._n, self._has_base)
                weights = impl.resolve_weights(setting.weights, self._n)
                impl.bind_models(setting.model_params, self._n)
                hit = self._cache[key] = (impl, weights)
            return hit

    @property
    def varies(self) -> bool:
        return self._resolver is not None

    def for_tensor(self, logical: str, name: str) -> tuple[MergeMethod, list[float]]:
        if self._resolver is None:
            return self.default
        return self._instance(self._resolver(logical, name))

    def check_all(self, names: Mapping[str, Sequence[str]]) -> None:
        """Resolve (and so validate) the setting of every tensor, before writing."""
        if self._resolver is None:
            return
        for logical, tensor_names in names.items():
            for name in tensor_names:
                try:
                    self.for_tensor(logical, name)
                except MergeError as exc:
                    raise MergeError(f"tensor {name!r} in {logical}: {exc}") from None

    def settings_used(self) -> int:
        return len(self._cache)

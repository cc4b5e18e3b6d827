"""Image-text scorers for the alignment filter: a small interface, so the score can come from
CLIP (the default, through the registered embedding backend), a reward model, or anything a
plugin provides.

A scorer is any object with ``score_batch(images, texts) -> list[float]`` (encoded image bytes
and captions in, one score per pair out, higher = better aligned) and optionally
``setup(ctx)``. It is named in the filter's params as ``"clip"`` or ``"package.module:Class"``
(built with ``scorer_params`` as keyword arguments).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from regionadapt.errors import ConfigError

if TYPE_CHECKING:
    from regionadapt.components import Context


@runtime_checkable
class Scorer(Protocol):
    def score_batch(self, images: list[bytes], texts: list[str]) -> list[float]: ...


BUILTIN = {"clip": "regionadapt_plugins.filters.clip_score:ClipScorer"}


def load_scorer(spec: str, params: dict[str, Any], ctx: Context) -> Scorer:
    """Build and set up the scorer named by ``spec`` (see the module docstring)."""
    target = BUILTIN.get(spec, spec)
    module_name, _, attr = target.partition(":")
    if not attr:
        raise ConfigError(
            f"alignment filter: scorer {spec!r}: expected one of {sorted(BUILTIN)} or "
            f"'package.module:Class'"
        )
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"alignment filter: scorer {spec!r} cannot be imported: {exc}") from None
    try:
        scorer = cls(**params)
    except TypeError as exc:
        raise ConfigError(f"alignment filter: scorer {spec!r}: bad scorer_params: {exc}") from None
    if not isinstance(scorer, Scorer):
        raise ConfigError(f"alignment filter: scorer {spec!r} has no score_batch(images, texts)")
    setup = getattr(scorer, "setup", None)
    if callable(setup):
        setup(ctx)
    return scorer

"""Evaluators for embedding models (open_clip, SigLIP...): zero-shot classification with
per-group accuracy, zero-shot multiple choice, image-text retrieval and a few-shot ridge probe.

A built-in plugin, registered through the ``embedding_eval`` entry point like any third-party
one. Importing this module imports no torch: each evaluator imports it when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from regionadapt.hookspecs import hookimpl


@hookimpl
def register_evaluators(register: Callable[[Any], None]) -> None:
    from regionadapt_plugins.embedding_eval.geo_probe import GeoProbe
    from regionadapt_plugins.embedding_eval.multiple_choice import MultipleChoice
    from regionadapt_plugins.embedding_eval.retrieval import Retrieval
    from regionadapt_plugins.embedding_eval.zeroshot import ZeroShotClassification

    register(ZeroShotClassification)
    register(MultipleChoice)
    register(Retrieval)
    register(GeoProbe)

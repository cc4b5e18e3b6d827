"""Culture evaluators for chat VLMs: value alignment with and without pictures ("Beyond
Words", GlobalOpinionQA / WVS) and thick-caption metrics (MELLA: keyword accuracy, BLEU, chrF,
ROUGE-L, METEOR per language); their data-set loaders (GlobalOpinionQA, the demo world's
caption benchmark). See docs/culture-evaluation.md.

A built-in plugin, registered through the ``culture_eval`` entry point like any third-party
one. Importing this module imports nothing heavy: each evaluator imports what it needs when it
runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from regionadapt.hookspecs import hookimpl


@hookimpl
def register_evaluators(register: Callable[[Any], None]) -> None:
    from regionadapt_plugins.culture_eval.captions import CaptionMetrics
    from regionadapt_plugins.culture_eval.values import ValueAlignment

    register(ValueAlignment)
    register(CaptionMetrics)


@hookimpl
def register_datasets(register: Callable[[Any], None]) -> None:
    from regionadapt_plugins.culture_eval.demo_captions import DemoWorldCaptions
    from regionadapt_plugins.culture_eval.opinions import GlobalOpinions

    register(GlobalOpinions)
    register(DemoWorldCaptions)

"""Evaluators for vision-language chat models (the ``ChatModel`` handle): multiple-choice VQA by
option log-likelihood or generation, open VQA / captions against a reference, and a loader for
benchmarks in VLMEvalKit's TSV layout.

A built-in plugin, registered through the ``chat_eval`` entry point like any third-party one.
Importing this module imports no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from regionadapt.hookspecs import hookimpl


@hookimpl
def register_evaluators(register: Callable[[Any], None]) -> None:
    from regionadapt_plugins.chat_eval.multiple_choice import VQAMultipleChoice
    from regionadapt_plugins.chat_eval.open_vqa import OpenVQA

    register(VQAMultipleChoice)
    register(OpenVQA)


@hookimpl
def register_datasets(register: Callable[[Any], None]) -> None:
    from regionadapt_plugins.chat_eval.tsv import VLMEvalKitTSV

    register(VLMEvalKitTSV)

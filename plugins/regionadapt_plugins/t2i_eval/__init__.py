"""Evaluators for text-to-image models: CLIPScore with any registered embedding model as the
judge, VQAScore-style P(Yes) with any registered chat VLM as the judge, on cultural prompts from the pack's lexicon or shipped everyday dense prompts; generated
images and contact sheets kept in the run; a blind human-rating kit (``rating.py``).

A built-in plugin (entry point ``t2i_eval``). Importing this module imports no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from regionadapt.hookspecs import hookimpl


@hookimpl
def register_evaluators(register: Callable[[Any], None]) -> None:
    from regionadapt_plugins.t2i_eval.clip_score import ClipScore
    from regionadapt_plugins.t2i_eval.vqa_score import VqaScore

    register(ClipScore)
    register(VqaScore)


@hookimpl
def register_commands(cli) -> None:
    from regionadapt_plugins.t2i_eval.commands import register

    register(cli)

"""docs/lvlm.md documents every parameter of the chat backend and the chat evaluators."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from regionadapt_plugins.chat_backend.params import ModelParams, TuneParams
from regionadapt_plugins.chat_eval.multiple_choice import MultipleChoiceParams
from regionadapt_plugins.chat_eval.open_vqa import OpenParams
from regionadapt_plugins.chat_eval.tsv import TsvParams

DOC = Path(__file__).resolve().parents[1] / "docs" / "lvlm.md"


@pytest.mark.parametrize(
    "model", [ModelParams, TuneParams, MultipleChoiceParams, OpenParams, TsvParams]
)
def test_every_param_is_documented(model):
    text = DOC.read_text(encoding="utf-8")
    missing = [k for k in model.model_fields if not re.search(rf"`[^`\n]*\b{k}\b[^`\n]*`", text)]
    assert missing == [], f"docs/lvlm.md does not document {model.__name__}.{missing}"

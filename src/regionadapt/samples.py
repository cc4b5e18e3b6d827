"""The sample every stage passes on, and its on-disk form (an HF ``datasets`` Dataset).

A sample is a dict with these fields; collectors fill what they know and leave the rest "".
``image`` holds encoded image bytes (PNG/JPEG...) or None when ``image_path`` points to a file.
``meta`` is a JSON object string for anything else (lexicon entry, category, coordinates, income).
``messages`` optionally holds chat turns (instruction / VQA data for chat models) as JSON text of
the list TRL and LLaMA-Factory read: ``[{"role": "user", "content": "..."}, {"role":
"assistant", "content": "..."}]``; the sample's image belongs to the first user turn. Empty when
the sample is a plain caption.
"""

from __future__ import annotations

import json
from typing import Any

FIELDS: dict[str, str] = {
    "id": "unique within the collection, stable across runs",
    "image": "encoded image bytes (PNG, JPEG...) or None",
    "image_path": "path of the image file when not embedded",
    "text": "caption or instruction",
    "lang": "ISO 639-3 code of text ('' if unknown)",
    "country": "ISO 3166-1 alpha-2 code ('' if unknown)",
    "source": "collector and source name",
    "url": "where the item came from",
    "license": "licence as published",
    "meta": "JSON object with anything else",
    "messages": "JSON list of chat turns {role, content} ('' for a plain caption)",
}

ROLES = ("system", "user", "assistant")
_BLANK: dict[str, Any] = {**{k: "" for k in FIELDS}, "image": None}


def new_sample(**values: Any) -> dict[str, Any]:
    """A sample with every field present; ``meta`` may be given as a dict."""
    unknown = values.keys() - FIELDS.keys()
    if unknown:
        raise ValueError(f"unknown sample fields {sorted(unknown)}; valid: {', '.join(FIELDS)}")
    sample: dict[str, Any] = {**_BLANK, **values}
    if isinstance(sample["messages"], list):
        sample["messages"] = json.dumps(sample["messages"], ensure_ascii=False)
    if isinstance(sample["meta"], dict):
        sample["meta"] = json.dumps(sample["meta"], ensure_ascii=False, sort_keys=True)
    elif sample["meta"] == "":
        sample["meta"] = "{}"
    return sample


def meta(sample: dict[str, Any]) -> dict[str, Any]:
    return json.loads(sample.get("meta") or "{}")


def messages(sample: dict[str, Any]) -> list[dict[str, str]]:
    """The sample's chat turns, checked; [] for a plain caption.

    Raises ValueError naming the sample when the field is not a list of {role, content} turns
    with at least one assistant turn.
    """
    raw = sample.get("messages") or ""
    if not raw:
        return []
    turns = json.loads(raw) if isinstance(raw, str) else raw
    where = f"sample {sample.get('id', '?')!r}: messages"
    if not isinstance(turns, list) or not turns:
        raise ValueError(f"{where}: expected a non-empty list of turns")
    for i, t in enumerate(turns):
        if (
            not isinstance(t, dict)
            or t.get("role") not in ROLES
            or not isinstance(t.get("content"), str)
        ):
            raise ValueError(
                f"{where}[{i}]: expected {{role: one of {'/'.join(ROLES)}, content: text}}"
            )
    if not any(t["role"] == "assistant" for t in turns):
        raise ValueError(f"{where}: no assistant turn to learn from")
    return turns


def features():
    """The ``datasets.Features`` of a saved sample collection (imports datasets lazily)."""
    import datasets

    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "image": datasets.Value("binary"),
            "image_path": datasets.Value("string"),
            "text": datasets.Value("string"),
            "lang": datasets.Value("string"),
            "country": datasets.Value("string"),
            "source": datasets.Value("string"),
            "url": datasets.Value("string"),
            "license": datasets.Value("string"),
            "meta": datasets.Value("string"),
            "messages": datasets.Value("string"),
        }
    )

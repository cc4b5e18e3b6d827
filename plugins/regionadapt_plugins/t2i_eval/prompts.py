"""The prompts a text-to-image model is scored on: cultural prompts from the region pack's
lexicon, everyday dense prompts from a shipped list, or any registered data-set loader.

Torch-free. Each prompt is a dict with the benchmark fields the evaluator needs (``id``,
``text``, ``lang``, ``country``, ``category``, ``concept``) so that scores group by category,
language and country.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from regionadapt.errors import ConfigError

# What a picture of a thing of each category shows (English; the entry's name may be in any
# language, its description is the pack's English gloss).
LEADS = {
    "food": "a photo of a dish of {name}",
    "clothing": "a photo of a person wearing {name}",
    "architecture": "a photo of {name}",
    "festival": "a photo of people celebrating {name}",
    "landmark": "a photo of {name}",
    "craft": "a photo of handmade {name}",
    "performing-arts": "a photo of a performance of {name}",
    "transport": "a photo of {name} on the street",
    "music": "a photo of musicians playing {name}",
    "religion": "a photo of {name}",
    "nature": "a photo of {name}",
}


def lexicon_prompts(
    pack: Any,
    languages: str = "all",
    describe: bool = True,
    categories: list[str] | None = None,
) -> list[dict[str, Any]]:
    """One prompt in English per lexicon entry (its English form, else its id spelled out:
    ``tom-yum`` -> ``tom yum``) and, with ``languages="all"``, one more per other language it
    has a name in. The name is set in an English sentence, followed by the entry's (English)
    description when ``describe``."""
    if pack is None or not pack.lexicon:
        raise ConfigError("lexicon prompts: the region pack has no [[lexicon]] entries")
    out = []
    for entry in sorted(pack.lexicon, key=lambda e: e.id):
        if categories and entry.category not in categories:
            continue
        names = {"eng": entry.forms.get("eng", [entry.id.replace("-", " ")])[0]}
        if languages == "all":
            names.update({lang: f[0] for lang, f in sorted(entry.forms.items()) if lang != "eng"})
        for lang, name in names.items():
            text = LEADS.get(entry.category, "a photo of {name}").format(name=name)
            if describe:
                text += f", {entry.description}"
            out.append({
                "id": f"{entry.id}-{lang}",
                "text": text,
                "lang": lang,
                "country": entry.countries[0],
                "category": entry.category,
                "concept": entry.id,
            })  # fmt: skip
    if not out:
        raise ConfigError(
            f"lexicon prompts: no entry matched (languages={languages!r}, categories={categories})"
        )
    return out


def global_prompts() -> list[dict[str, Any]]:
    """The shipped everyday dense prompts (``global_prompts.txt``)."""
    text = resources.files(__package__).joinpath("global_prompts.txt").read_text("utf-8")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    return [
        {"id": f"global-{i:03d}", "text": t, "lang": "eng", "country": "", "category": "everyday",
         "concept": ""}
        for i, t in enumerate(lines)
    ]  # fmt: skip


def dataset_prompts(ds: Any, name: str) -> list[dict[str, Any]]:
    """Prompts from a benchmark in the common schema: ``text`` is the prompt."""
    import json

    if "text" not in ds.column_names:
        raise ConfigError(f"data set {name!r}: no 'text' column to read prompts from")
    out = []
    for i, row in enumerate(ds.select_columns([c for c in ("id", "text", "lang", "country",
                                                       "meta", "label") if c in ds.column_names])):  # fmt: skip
        meta = json.loads(row.get("meta") or "{}")
        out.append({
            "id": row.get("id") or f"{name}-{i}",
            "text": row["text"],
            "lang": row.get("lang", ""),
            "country": row.get("country", ""),
            "category": meta.get("category", ""),
            "concept": meta.get("concept", row.get("label", "")),
        })  # fmt: skip
    return out

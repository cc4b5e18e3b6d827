"""Answer matching for generated text: VQA-style normalisation and option-letter parsing."""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Sequence

LETTERS = string.ascii_uppercase
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.IGNORECASE)
_PUNCT = {c for c in string.punctuation}


def normalise(text: str) -> str:
    """Lower case, NFC, punctuation and English articles removed, whitespace collapsed (the VQA
    evaluation's normalisation, kept script-neutral). NFC, not NFKC: NFKC splits Thai SARA AM
    into two characters, so a Thai answer would no longer read as written."""
    text = unicodedata.normalize("NFC", text or "").lower()
    text = "".join(" " if c in _PUNCT or unicodedata.category(c).startswith("P") else c
                   for c in text)  # fmt: skip
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def options_block(options: Sequence[str]) -> str:
    return "\n".join(f"{LETTERS[k]}. {o}" for k, o in enumerate(options))


def match_option(reply: str, options: Sequence[str]) -> int | None:
    """The option a generated reply picks: a leading letter ('B', '(b)', 'B.'), the option's
    text exactly (normalised), or the one option whose text it contains; None if unclear."""
    raw = (reply or "").strip()
    m = re.match(r"^\(?([A-Za-z])[\).:\s]*(?:$|\s)", raw + " ")
    if m and m.group(1).upper() in LETTERS[: len(options)]:
        # a one-letter word that is also an option's text is ambiguous only for 'a'/'i' words
        return LETTERS.index(m.group(1).upper())
    norm = normalise(raw)
    texts = [normalise(o) for o in options]
    if norm in texts:
        return texts.index(norm)
    hits = [k for k, t in enumerate(texts) if t and re.search(rf"(^|\s){re.escape(t)}($|\s)", norm)]
    return hits[0] if len(hits) == 1 else None

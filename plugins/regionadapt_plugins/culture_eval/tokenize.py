"""Word tokenisers per language, named, for the caption metrics.

Spaced scripts split on Unicode word characters (every script kept: rouge-score's own
tokeniser keeps only a-z0-9, so identical Thai captions would score 0). Scripts without spaces
use a word segmenter where a well-kept package exists (pythainlp for Thai, laonlp for Lao,
khmer-nltk for Khmer), else single characters. The name of the tokeniser goes beside every score.
Burmese has no segmenter here (characters); its tokeniser refuses Zawgyi-encoded text
(``zawgyi.check_unicode``): convert it to Unicode before scoring (docs/culture-evaluation.md).
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

# Languages whose script does not separate words, for codes a pack does not declare.
UNSPACED = frozenset({"tha", "lao", "khm", "mya", "zho", "jpn", "bod", "dzo", "shn"})
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Tokenizer:
    name: str
    split: Callable[[str], list[str]]

    def tokenize(self, text: str) -> list[str]:  # the interface rouge-score calls
        return self.split(text)


def unicode_words(text: str) -> list[str]:
    """Lower-cased runs of word characters in any script (marks kept inside words)."""
    return [m.group(0) for m in _WORD.finditer(text.lower())]


def characters(text: str) -> list[str]:
    """Each non-space character, combining marks attached to the character before them."""
    out: list[str] = []
    for ch in text.lower():
        if ch.isspace():
            continue
        if out and unicodedata.category(ch).startswith("M"):
            out[-1] += ch
        else:
            out.append(ch)
    return [t for t in out if _is_wordlike(t)]


def _is_wordlike(token: str) -> bool:
    return any(ch.isalnum() or unicodedata.category(ch).startswith("M") for ch in token)


def _segmenter(lang: str) -> tuple[str, Callable[[str], list[str]]] | None:
    if lang == "tha" and importlib.util.find_spec("pythainlp"):
        from pythainlp.tokenize import word_tokenize

        return "pythainlp-newmm", lambda t: word_tokenize(t, engine="newmm", keep_whitespace=False)
    if lang == "lao" and importlib.util.find_spec("laonlp"):
        from laonlp.tokenize import word_tokenize

        return "laonlp", word_tokenize
    if lang == "khm" and importlib.util.find_spec("khmernltk"):
        import logging

        from khmernltk import word_tokenize

        logging.getLogger("khmer-nltk").setLevel(logging.WARNING)  # it logs every model load
        return "khmer-nltk", word_tokenize
    return None


@cache
def word_tokenizer(lang: str, spaced: bool) -> Tokenizer:
    """The word tokeniser for ``lang`` (ISO 639-3); ``spaced`` as the pack declares it."""
    if spaced and lang not in UNSPACED:
        return Tokenizer("unicode-words", unicode_words)
    if lang == "mya":
        from regionadapt_plugins.culture_eval.zawgyi import check_unicode

        return Tokenizer("chars", lambda t: characters(check_unicode(t)))
    seg = _segmenter(lang)
    if seg is None:
        return Tokenizer("chars", characters)
    name, fn = seg

    def split(text: str) -> list[str]:
        return [t.lower() for t in fn(text) if t.strip() and _is_wordlike(t)]

    return Tokenizer(name, split)

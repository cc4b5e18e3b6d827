"""Text helpers shared by filters: normalisation and script detection.

Matching must not depend on how a caption happened to be encoded (precomposed vs combining
accents, upper vs lower case), so every comparison goes through :func:`normalise`. The script
detector lets the language filter recognise languages its statistical model does not know when
their script is unique to them in the pack (e.g. Burmese in a model without ``my``).
"""

from __future__ import annotations

import bisect
import unicodedata
from collections import Counter

try:  # the C loop under Counter(iterable), without Counter.update's Python-level checks
    from collections import _count_elements
except ImportError:  # pragma: no cover - other Pythons

    def _count_elements(counts, iterable):
        for item in iterable:
            counts[item] = counts.get(item, 0) + 1


# (first code point, last code point, ISO 15924 script). Sorted by first code point.
_RANGES: list[tuple[int, int, str]] = sorted([
    (0x0041, 0x005A, "Latn"), (0x0061, 0x007A, "Latn"), (0x00C0, 0x024F, "Latn"),
    (0x1E00, 0x1EFF, "Latn"), (0x0370, 0x03FF, "Grek"), (0x0400, 0x04FF, "Cyrl"),
    (0x0530, 0x058F, "Armn"), (0x0590, 0x05FF, "Hebr"), (0x0600, 0x06FF, "Arab"),
    (0x0750, 0x077F, "Arab"), (0x0900, 0x097F, "Deva"), (0x0980, 0x09FF, "Beng"),
    (0x0A00, 0x0A7F, "Guru"), (0x0A80, 0x0AFF, "Gujr"), (0x0B00, 0x0B7F, "Orya"),
    (0x0B80, 0x0BFF, "Taml"), (0x0C00, 0x0C7F, "Telu"), (0x0C80, 0x0CFF, "Knda"),
    (0x0D00, 0x0D7F, "Mlym"), (0x0D80, 0x0DFF, "Sinh"), (0x0E00, 0x0E7F, "Thai"),
    (0x0E80, 0x0EFF, "Laoo"), (0x0F00, 0x0FFF, "Tibt"), (0x1000, 0x109F, "Mymr"),
    (0xA9E0, 0xA9FF, "Mymr"), (0xAA60, 0xAA7F, "Mymr"), (0x10A0, 0x10FF, "Geor"),
    (0x1100, 0x11FF, "Hang"), (0xAC00, 0xD7AF, "Hang"), (0x1780, 0x17FF, "Khmr"),
    (0x19E0, 0x19FF, "Khmr"), (0x1700, 0x171F, "Tglg"), (0x1A00, 0x1A1F, "Bugi"),
    (0xA980, 0xA9DF, "Java"), (0x1B00, 0x1B7F, "Bali"), (0x3040, 0x309F, "Hira"),
    (0x30A0, 0x30FF, "Kana"), (0x3400, 0x4DBF, "Hani"), (0x4E00, 0x9FFF, "Hani"),
    (0xF900, 0xFAFF, "Hani"), (0x1200, 0x139F, "Ethi"), (0x2D30, 0x2D7F, "Tfng"),
    (0x0780, 0x07BF, "Thaa"),
])  # fmt: skip
_STARTS = [r[0] for r in _RANGES]

# Scripts whose writing does not put spaces between words: matching there cannot rely on
# word boundaries.
UNSPACED_SCRIPTS = frozenset(
    {"Thai", "Laoo", "Khmr", "Mymr", "Hani", "Hans", "Hant", "Hira", "Kana", "Jpan", "Tibt"}
)
# The pack may name a Han script variant; the detector only sees Han.
_ALIASES = {"Hans": "Hani", "Hant": "Hani", "Jpan": "Hani", "Kore": "Hang"}


def normalise(text: str) -> str:
    """NFC + case folding: the form every lexicon match and comparison uses."""
    return unicodedata.normalize("NFC", text).casefold()


def script_of(ch: str) -> str | None:
    """ISO 15924 code of one character, or None for digits, punctuation, spaces, unknown."""
    cp = ord(ch)
    i = bisect.bisect_right(_STARTS, cp) - 1
    if i >= 0 and _RANGES[i][0] <= cp <= _RANGES[i][1]:
        return _RANGES[i][2]
    return None


class _PerCharacter(dict):
    """Character -> ``fn(character)``, filled on first sight: a look-up is a plain dict read (C),
    so ``map(cache.__getitem__, text)`` runs without a Python call per character."""

    def __init__(self, fn) -> None:
        super().__init__()
        self._fn = fn

    def __missing__(self, ch: str):
        self[ch] = found = self._fn(ch)
        return found


_CACHE = _PerCharacter(script_of)
_SCRIPT_OF = _CACHE.__getitem__


def cached_script(ch: str) -> str | None:
    """:func:`script_of`, remembered per character (the range search runs once per character)."""
    return _CACHE[ch]


def dominant_script(text: str) -> tuple[str | None, float]:
    """The most frequent script among the letters of ``text`` and its share of those letters.

    Per character a dictionary look-up (the range search runs once per distinct character):
    this runs on every caption the language filter sees."""
    counts = script_counts(text)
    if not counts:
        return None, 0.0
    script, n = counts.most_common(1)[0]
    return script, n / sum(counts.values())


def script_counts(text: str) -> Counter:
    """Letters per script (characters of no script left out)."""
    counts: Counter = Counter()
    _count_elements(counts, map(_SCRIPT_OF, text))
    counts.pop(None, None)
    return counts


def scripts_present(text: str) -> set[str]:
    """Every script among the letters of ``text``."""
    found = set(map(_SCRIPT_OF, text))
    found.discard(None)
    return found


def canonical_script(code: str) -> str:
    """Map pack script codes onto what :func:`script_of` reports (Hans/Hant -> Hani)."""
    return _ALIASES.get(code, code)


# remembered per character: the matcher asks twice a hit
_WORD_CHAR = _PerCharacter(lambda ch: unicodedata.category(ch)[0] in "LMN")


def is_word_char(ch: str) -> bool:
    """Letters, marks and digits: what must not touch a spaced-script match on either side."""
    return _WORD_CHAR[ch]

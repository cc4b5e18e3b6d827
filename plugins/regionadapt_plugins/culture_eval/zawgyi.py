"""Zawgyi-encoded Burmese: found, never scored as Unicode.

Zawgyi is a font encoding that reuses the Unicode Myanmar block with other meanings (medial ra
typed before the consonant at U+103B, asat at U+1039, ...). Much Burmese text online is still
Zawgyi; scored as Unicode it would match nothing and tokenise wrongly, silently. Google's
``myanmartools`` (``ZawgyiDetector``, a Markov model over code points, pure Python) gives the
probability that a string is Zawgyi; above ``THRESHOLD`` (the cut its documentation uses) the
item is skipped and counted as ``zawgyi``. No converter is used: the well-kept one is ICU's
``Zawgyi-my`` transliterator, reachable from Python only through PyICU (a C extension built
against the ICU library), so text must be converted before it reaches the evaluator
(docs/culture-evaluation.md says how).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

THRESHOLD = 0.95
_MYANMAR = re.compile(r"[\u1000-\u109f\uaa60-\uaa7f\ua9e0-\ua9ff]")


def has_myanmar(text: str) -> bool:
    return bool(_MYANMAR.search(text or ""))


@cache
def _detector() -> Any:
    import warnings

    try:
        from myanmartools import ZawgyiDetector
    except ImportError:
        return None
    with warnings.catch_warnings():  # 1.2.1 reads its model with importlib's deprecated API
        warnings.simplefilter("ignore", DeprecationWarning)
        return ZawgyiDetector()


def zawgyi_reason(text: str) -> str | None:
    """None when ``text`` may be scored as Unicode; else why not: ``"zawgyi"``, or that the
    detector is missing (Burmese text is then never scored, rather than maybe mis-scored)."""
    if not has_myanmar(text):
        return None
    det = _detector()
    if det is None:
        return "burmese: zawgyi detector missing (pip install myanmartools)"
    return "zawgyi" if det.get_zawgyi_probability(text) > THRESHOLD else None


def check_unicode(text: str) -> str:
    """``text`` unchanged, or ValueError when it is (or cannot be shown not to be) Zawgyi:
    for tokenisers, so Zawgyi never reaches a score even past the evaluator's own check."""
    reason = zawgyi_reason(text)
    if reason:
        raise ValueError(f"{reason}: {text[:40]!r} is not scored as Unicode Burmese")
    return text

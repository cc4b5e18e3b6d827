"""Keep text written in one of the pack's languages, identified offline by py3langid."""

from __future__ import annotations

import copy
import functools
from typing import Any, ClassVar

from pydantic import Field

from regionadapt.components import Context, Filter
from regionadapt.data.langcodes import to_model_label
from regionadapt.data.text import canonical_script, dominant_script
from regionadapt.errors import ConfigError
from regionadapt.schema import Strict

# Widely written languages that compete with the pack's: restricting the identifier to the
# pack's languages alone would force every English caption into the nearest regional language.
DEFAULT_OTHERS = [
    "eng", "fra", "spa", "por", "deu", "ita", "nld", "rus", "ara", "hin", "jpn", "kor", "tur",
    "pol", "swe",
]  # fmt: skip


@functools.lru_cache(maxsize=1)
def _base_identifier():
    """The full py3langid model, loaded once per process (~1.5 s); filters restrict copies."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


class LanguageFilter(Filter):
    name: ClassVar[str] = "language"
    description: ClassVar[str] = (
        "Identifies the caption's language among the pack's languages plus a few widely written "
        "others (py3langid, offline) and keeps it when it is a pack language identified with at "
        "least the language's threshold probability. Languages the model lacks are recognised "
        "by their script when no other pack language shares it."
    )
    requires: ClassVar[dict[str, str]] = {"py3langid": "py3langid"}

    class Params(Strict):
        min_prob: float = Field(default=0.5, ge=0.0, le=1.0)
        # Per pack language (ISO 639-3) thresholds overriding min_prob, e.g. {"fil": 0.7}.
        thresholds: dict[str, float] = Field(default_factory=dict)
        # ISO 639-3 codes of non-pack languages the identifier may answer (see DEFAULT_OTHERS).
        others: list[str] = Field(default_factory=lambda: list(DEFAULT_OTHERS))
        # Texts with fewer letters than this are judged by their declared `lang` field alone.
        min_letters: int = Field(default=3, ge=0)

    def setup(self, ctx: Context) -> None:
        pack_langs = ctx.pack.language_codes
        for code in self.params.thresholds:
            if code not in pack_langs:
                raise ConfigError(
                    f"language filter: thresholds.{code}: not a language of pack "
                    f"{ctx.pack.id!r} ({', '.join(pack_langs)})"
                )
        # set_languages builds new restricted arrays, so a shallow copy shares nothing mutable
        ident = copy.copy(_base_identifier())
        labels = frozenset(ident.nb_classes)
        self._pack = set(pack_langs)
        self._label_to_code: dict[str, str] = {}
        self._by_script: dict[str, str] = {}
        scripts = [canonical_script(lang.script) for lang in ctx.pack.languages]
        for lang, script in zip(ctx.pack.languages, scripts, strict=True):
            label = to_model_label(lang.code, labels)
            if label is not None:
                self._label_to_code.setdefault(label, lang.code)
            elif scripts.count(script) == 1 and script != "Latn":
                self._by_script[script] = lang.code  # e.g. a Burmese-only script
        for code in self.params.others:
            label = to_model_label(code, labels)
            if label is not None and code not in self._pack:
                self._label_to_code.setdefault(label, code)
        ident.set_languages(sorted(self._label_to_code))
        self._ident = ident

    def _threshold(self, code: str) -> float:
        return self.params.thresholds.get(code, self.params.min_prob)

    def identify(self, text: str) -> tuple[str, float]:
        """(ISO 639-3 code, probability) among the considered languages."""
        script, share = dominant_script(text)
        if script in self._by_script and share >= 0.5:
            return self._by_script[script], share
        label, prob = self._ident.classify(text)
        return self._label_to_code.get(label, label), float(prob)

    def keep(self, sample: dict[str, Any]) -> bool | tuple[bool, str]:
        text = (sample.get("text") or "").strip()
        if not text:
            return False, "no-text: empty caption"
        letters = sum(ch.isalpha() for ch in text)
        if letters < self.params.min_letters:
            declared = sample.get("lang") or ""
            if declared in self._pack:
                return True
            return (
                False,
                f"text-too-short: {letters} letters and declared lang {declared!r} not in pack",
            )
        code, prob = self.identify(text)
        if code not in self._pack:
            return False, f"lang-not-in-pack: {code} (p={prob:.2f})"
        if prob < self._threshold(code):
            return False, f"lang-low-confidence: {code} p={prob:.2f} < {self._threshold(code)}"
        return True

"""Keep text written in one of the pack's languages, identified offline by py3langid."""

from __future__ import annotations

import copy
import functools
import re
from typing import Any, ClassVar, Literal

from pydantic import Field

from regionadapt.components import Context, Filter
from regionadapt.data.langcodes import ISO1_TO_3, to_model_label
from regionadapt.data.text import canonical_script, script_counts
from regionadapt.errors import ConfigError
from regionadapt.schema import Strict
from regionadapt_plugins.filters.english import plainly_english
from regionadapt_plugins.filters.langid_batch import BatchScorer

# A short list of widely written languages, for `others` when speed matters more than catching
# every foreign language (restricting the model to fewer languages is ~1.7x faster).
COMMON_OTHERS = [
    "eng", "fra", "spa", "por", "deu", "ita", "nld", "rus", "ara", "hin", "jpn", "kor", "tur",
    "pol", "swe",
]  # fmt: skip


# Scripts written for one language only (in practice): a caption in one of them is that language.
SINGLE_LANGUAGE_SCRIPTS = frozenset({
    "Thai", "Laoo", "Khmr", "Mymr", "Sinh", "Geor", "Armn", "Hang", "Gujr", "Orya", "Taml",
    "Telu", "Knda", "Mlym", "Guru", "Hebr",
})  # fmt: skip


# Letters written by one language only (in practice): Vietnamese's horned and hooked vowels and
# its stacked tone marks (ơ ư đ, ả ấ ầ ẩ ẫ ậ ắ ... ỹ). Letters with a dot below (ạ ẹ ị ọ ụ) are
# left out: Yoruba and Igbo write them too. Two of them in a caption are Vietnamese, without the
# model (it agrees on 98% of Vietnamese text, and costs ~70 us a caption).
SINGLE_LANGUAGE_LETTERS = {
    "vie": re.compile(
        "[ơưđƠƯĐảấầẩẫậắằẳẵặẻẽếềểễệỉỏốồổỗộớờởỡợủứừửữựỳỷỹẢẤẦẨẪẬẮẰẲẴẶẺẼẾỀỂỄỆỈỎỐỒỔỖỘỚỜỞỠỢỦỨỪỬỮỰỲỶỸ]"
    ),
}


@functools.lru_cache(maxsize=1)
def _base_identifier():
    """The full py3langid model, loaded once per process (~1.5 s); filters restrict copies."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


class LanguageFilter(Filter):
    name: ClassVar[str] = "language"
    description: ClassVar[str] = (
        "Identifies the caption's language among the pack's languages and competitors "
        "(`others`: all of py3langid's 140 by default; offline) and keeps it when the pack's "
        "languages together get at least the threshold set for its best pack language. "
        "Languages the model lacks are recognised by their script when no other pack language "
        "shares it."
    )
    requires: ClassVar[dict[str, str]] = {"py3langid": "py3langid"}

    class Params(Strict):
        # Chosen on real text (benchmarks/region_filter_quality.py): P 0.99, R 0.91 for SEA.
        min_prob: float = Field(default=0.3, ge=0.0, le=1.0)
        # Per pack language (ISO 639-3) thresholds overriding min_prob, e.g. {"fil": 0.7}.
        thresholds: dict[str, float] = Field(default_factory=dict)
        # Non-pack languages the identifier may answer: "all" (every language the model knows,
        # the default) or a list of ISO 639-3 codes (e.g. COMMON_OTHERS). Restricting the model
        # to the pack's languages alone would force every foreign caption into the nearest
        # regional language: competitors are what lets it say "not ours".
        others: Literal["all"] | list[str] = "all"
        # Texts with fewer letters than this are judged by their declared `lang` field alone.
        min_letters: int = Field(default=3, ge=0)
        fast_english: bool = Field(
            default=True,
            description=(
                "call plainly English text (>= 4 words, two thirds among English's commonest "
                "words; or common words around capitalised names, 'Morning in Zürich') English "
                "without the model: ~10x faster on English-heavy pools"
            ),
        )
        evidence_only: bool = Field(
            default=False,
            description=(
                "keep only captions in a language the pack marks `evidence = true` (written "
                "mostly in the region: Thai, Khmer, Tagalog...), not in one it shares with the "
                "world (English, Chinese, Portuguese): for finding the region's captions in a "
                "world-wide pool, inside an any_of group with the lexicon and gazetteer"
            ),
        )

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
        self._evidence = set(ctx.pack.evidence_languages)
        self._evidence_scripts = {
            canonical_script(lang.script) for lang in ctx.pack.languages if lang.evidence
        }
        if "Hani" in self._evidence_scripts:  # Japanese captions mix kana and Han
            self._evidence_scripts |= {"Hira", "Kana"}
        if self.params.evidence_only and not self._evidence:
            raise ConfigError(
                f"language filter: evidence_only: pack {ctx.pack.id!r} marks none of its "
                "languages `evidence = true`"
            )
        for lang, script in zip(ctx.pack.languages, scripts, strict=True):
            label = to_model_label(lang.code, labels)
            if label is not None:
                self._label_to_code.setdefault(label, lang.code)
            if scripts.count(script) == 1 and (label is None or script in SINGLE_LANGUAGE_SCRIPTS):
                # A script only this pack language uses (Burmese, Thai, Khmer...): the script
                # says it, faster and surer on short text than the statistical model.
                self._by_script[script] = lang.code
        if self.params.others == "all":
            for label in sorted(labels):  # ISO 639-1, or 639-3 where there is no 639-1
                self._label_to_code.setdefault(label, ISO1_TO_3.get(label, label))
        else:
            for code in self.params.others:
                label = to_model_label(code, labels)
                if label is None:
                    raise ConfigError(f"language filter: others: {code!r} is unknown to py3langid")
                if code not in self._pack:
                    self._label_to_code.setdefault(label, code)
        self._by_letters = [
            (code, letters)
            for code, letters in SINGLE_LANGUAGE_LETTERS.items()
            if code in self._pack
        ]
        ident.set_languages(sorted(self._label_to_code))
        self._ident = ident
        self._scorer = BatchScorer(ident)
        # Columns of the model's output that are pack languages (one vector sum per caption).
        cols = [(i, self._label_to_code.get(lbl)) for i, lbl in enumerate(ident.nb_classes)]
        cols = [(i, code) for i, code in cols if code in self._pack]
        self._pack_idx = [i for i, _ in cols]
        self._pack_codes = [code for _, code in cols]

    def _threshold(self, code: str) -> float:
        return self.params.thresholds.get(code, self.params.min_prob)

    def identify(self, text: str) -> tuple[str, float, float]:
        """(language, its probability, probability mass on all pack languages).

        The language is the most likely pack language when the pack's languages together
        hold at least half the mass, the overall most likely language otherwise. Summing
        matters for close relatives both in the pack (Indonesian/Malay split one caption's
        probability between them)."""
        fast = self._identify_fast(text, None if text.isascii() else script_counts(text))
        if fast is not None:
            return fast
        return self._from_scores(self._scorer.decide([text])[0])

    def _identify_fast(self, text: str, counts) -> tuple[str, float, float] | None:
        """The language without the model, where the script, letters or words say it."""
        if counts:  # not ASCII (ASCII is Latin: no script scan)
            if self._by_script:
                script, n = counts.most_common(1)[0]
                share = n / sum(counts.values())
                if script in self._by_script and share >= 0.5:
                    return self._by_script[script], share, share
            for code, letters in self._by_letters:
                if len(letters.findall(text)) >= 2:
                    return code, 1.0, 1.0
        # Latin letters only: a word in another script ("A street market in फतेहपुर") is a
        # regional name the model, not the English word list, must weigh
        if (
            self.params.fast_english
            and (not counts or counts.keys() == {"Latn"})
            and plainly_english(text)
        ):
            return "eng", 1.0, (1.0 if "eng" in self._pack else 0.0)
        return None

    def _from_scores(self, scores) -> tuple[str, float, float]:
        pack_scores = scores[self._pack_idx]
        total = float(pack_scores.sum())
        if total >= 0.5:
            j = int(pack_scores.argmax())
            return self._pack_codes[j], float(pack_scores[j]), total
        i = int(scores.argmax())
        label = self._ident.nb_classes[i]
        return self._label_to_code.get(label, label), float(scores[i]), total

    def _from_score_rows(self, scores) -> list[tuple[str, float, float]]:
        """:meth:`_from_scores` for every row of ``scores``: one gather and two argmax calls per
        batch. Each row's total is summed alone, as :meth:`_from_scores` sums it (a sum along
        axis 1 rounds differently in the last bit, which could move a caption across a
        threshold)."""
        pack_scores = scores[:, self._pack_idx]
        totals = [float(row.sum()) for row in pack_scores]
        best_pack = pack_scores.argmax(axis=1).tolist()
        best = scores.argmax(axis=1).tolist()
        out = []
        for r, total in enumerate(totals):
            if total >= 0.5:
                j = best_pack[r]
                out.append((self._pack_codes[j], float(pack_scores[r, j]), total))
            else:
                i = best[r]
                label = self._ident.nb_classes[i]
                out.append((self._label_to_code.get(label, label), float(scores[r, i]), total))
        return out

    def keep(self, sample: dict[str, Any]) -> bool | tuple[bool, str]:
        return self.keep_batch([sample])[0]

    def keep_batch(self, samples: list[dict[str, Any]]) -> list[bool | tuple[bool, str]]:
        """Every caption the script, letters or words cannot place goes to the model in one
        batch (langid_batch: ~3x faster than py3langid one caption at a time)."""
        out: list[Any] = [None] * len(samples)
        need: list[tuple[int, str]] = []
        for i, sample in enumerate(samples):
            res = self._before_model(sample)
            if isinstance(res, str):
                need.append((i, res))
            else:
                out[i] = res
        if need:
            scores = self._scorer.decide([text for _, text in need])
            for (i, _), found in zip(need, self._from_score_rows(scores), strict=True):
                out[i] = self._judge(*found)
        return out

    def _before_model(self, sample: dict[str, Any]) -> bool | tuple[bool, str] | str:
        """The answer, or the caption's text where the model must identify it."""
        text = (sample.get("text") or "").strip()
        if not text:
            return False, "no-text: empty caption"
        # counting letters costs a pass over the text: only short texts can have too few
        letters = (
            sum(map(str.isalpha, text))
            if len(text) < 4 * self.params.min_letters + 8
            else len(text)
        )
        if letters < self.params.min_letters:
            declared = sample.get("lang") or ""
            if declared in self._pack and (
                not self.params.evidence_only or declared in self._evidence
            ):
                return True, f"declared lang {declared}"
            return (
                False,
                f"text-too-short: {letters} letters; declared lang {declared!r} not in pack",
            )
        counts = None if text.isascii() else script_counts(text)
        if self.params.evidence_only and counts:
            if counts.keys().isdisjoint(self._evidence_scripts):
                # no letter in a script of an evidence language (Cyrillic text for SEA): no model
                return False, f"lang-not-evidence: written in {', '.join(sorted(counts))}"
            ours = sum(n for s, n in counts.items() if s in self._evidence_scripts)
            other = max(
                (s for s in counts if s not in self._evidence_scripts), key=counts.get, default=None
            )
            if 5 * ours < 2 * sum(counts.values()) and other != "Latn":
                # mostly another script, a few Latin letters (a Japanese sentence naming GNOME).
                # Not mostly Latin: "A street market in फतेहपुर" is an English frame around a
                # regional name, for the model to weigh.
                return False, f"lang-not-evidence: written mostly in {other}"
        fast = self._identify_fast(text, counts)
        if fast is None:
            return text
        return self._judge(*fast)

    def _judge(self, code: str, prob: float, total: float) -> bool | tuple[bool, str]:
        if code not in self._pack:
            return False, f"lang-not-in-pack: {code} (p={prob:.3f}; pack languages {total:.3f})"
        limit = self._threshold(code)
        if total < limit:
            return (
                False,
                f"lang-low-confidence: {code}, pack languages p={total:.3f}, below the "
                f"threshold {limit:.3f}",
            )
        if self.params.evidence_only and code not in self._evidence:
            return False, f"lang-not-evidence: {code} is written beyond the region too"
        return True, f"{code} (p={total:.3f})"

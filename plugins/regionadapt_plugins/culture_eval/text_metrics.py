"""Caption metrics as pure functions over (hypothesis, reference) texts of one language.

Each returns its value and the name of the tokenisation it used, so no score is ever printed
without it. BLEU and chrF are sacrebleu's (corpus level, 0-100); ROUGE-L is rouge-score's F
measure with our tokeniser (its default keeps only a-z0-9); METEOR is nltk's with WordNet, or
None when WordNet data is missing (never a METEOR without WordNet under that name).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from regionadapt_plugins.culture_eval.tokenize import Tokenizer


def bleu(hyps: Sequence[str], refs: Sequence[str], tok: Tokenizer | str) -> tuple[float, str]:
    """Corpus BLEU. ``tok`` is a sacrebleu tokeniser name that needs no download ('13a',
    'char', 'zh', 'intl', 'none') or a word :class:`Tokenizer` (texts pre-segmented, then
    sacrebleu's 'none')."""
    from sacrebleu.metrics import BLEU

    if isinstance(tok, str):
        if tok not in ("13a", "char", "zh", "intl", "none"):
            raise ValueError(
                f"sacrebleu tokeniser {tok!r} may need a download; use 13a/char/zh/intl"
            )
        return BLEU(tokenize=tok).corpus_score(list(hyps), [list(refs)]).score, tok
    h = [" ".join(tok.split(t)) for t in hyps]
    r = [" ".join(tok.split(t)) for t in refs]
    return BLEU(tokenize="none").corpus_score(h, [r]).score, f"word:{tok.name}"


def chrf(
    hyps: Sequence[str], refs: Sequence[str], char_order: int = 6, word_order: int = 0
) -> tuple[float, str]:
    """Corpus chrF (beta 2): character n-grams, whitespace removed: no tokeniser needed."""
    from sacrebleu.metrics import CHRF

    score = CHRF(char_order=char_order, word_order=word_order).corpus_score(
        list(hyps), [list(refs)]
    )
    name = f"chrF{'++' if word_order else ''}:char{char_order}" + (
        f"+word{word_order}" if word_order else ""
    )
    return score.score, name


def rouge_l(hyps: Sequence[str], refs: Sequence[str], tok: Tokenizer) -> tuple[float, str]:
    """Mean sentence ROUGE-L F1 (0-1), rouge-score with ``tok`` and no stemming."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False, tokenizer=tok)
    vals = [scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(hyps, refs, strict=True)]
    return (sum(vals) / len(vals) if vals else 0.0), f"word:{tok.name}"


def meteor(
    hyps: Sequence[str], refs: Sequence[str], tok: Tokenizer, wordnet: object | None
) -> tuple[float | None, str]:
    """Mean sentence METEOR (0-1, nltk: exact, Porter-stem and WordNet-synonym matches; the
    last two are English-only); None without WordNet."""
    if wordnet is None:
        return None, "unavailable"
    from nltk.translate.meteor_score import meteor_score

    vals = [
        meteor_score([tok.split(r)], tok.split(h), wordnet=wordnet)
        for h, r in zip(hyps, refs, strict=True)
    ]
    return (sum(vals) / len(vals) if vals else 0.0), f"word:{tok.name}"


def keyword_accuracy(caption_ids: set[str], reference_ids: set[str]) -> float | None:
    """Share of the lexicon entries the reference names that the caption names too (None
    when the reference names none)."""
    if not reference_ids:
        return None
    return len(caption_ids & reference_ids) / len(reference_ids)

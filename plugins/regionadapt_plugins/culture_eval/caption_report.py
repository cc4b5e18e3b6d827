"""Per-language text metrics of the captions, each key naming the tokeniser it used."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from regionadapt.components import Context
from regionadapt_plugins.culture_eval import text_metrics as tm
from regionadapt_plugins.culture_eval.tokenize import UNSPACED, word_tokenizer
from regionadapt_plugins.culture_eval.wordnet import find_wordnet


def spaced(ctx: Context, lang: str) -> bool:
    for lg in ctx.pack.languages:
        if lg.code == lang:
            return lg.spaced
    return lang not in UNSPACED


def language_metrics(ctx: Context, rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """``bleu/<lang>/<tok>``, ``chrf/...``, ``rouge_l/...``, ``meteor/...`` per language.

    Spaced languages: BLEU with sacrebleu's 13a. Unspaced ones: BLEU on characters (sacrebleu
    'char'; 'zh' for Chinese) and, where a segmenter is installed, on its words too. METEOR is
    left out, with ``meteor_available = 0``, when no WordNet data is found.
    """
    wordnet, _where = find_wordnet()
    out: dict[str, float] = {"meteor_available": float(wordnet is not None)}
    by_lang: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_lang.setdefault(r["lang"], []).append(r)
    for lang, part in sorted(by_lang.items()):
        hyps = [r["caption"] for r in part]
        refs = [r["reference"] for r in part]
        is_spaced = spaced(ctx, lang)
        tok = word_tokenizer(lang, is_spaced)
        bleus = (
            [tm.bleu(hyps, refs, "13a")]
            if is_spaced
            else [tm.bleu(hyps, refs, "zh" if lang == "zho" else "char")]
        )
        if not is_spaced and tok.name != "chars":
            bleus.append(tm.bleu(hyps, refs, tok))
        for value, name in bleus:
            out[f"bleu/{lang}/{name}"] = value
        value, name = tm.chrf(hyps, refs)
        out[f"chrf/{lang}/{name}"] = value
        value, name = tm.rouge_l(hyps, refs, tok)
        out[f"rouge_l/{lang}/{name}"] = value
        m, name = tm.meteor(hyps, refs, tok, wordnet)
        if m is not None:
            out[f"meteor/{lang}/{name}"] = m
        out[f"n/{lang}"] = float(len(part))
    return out

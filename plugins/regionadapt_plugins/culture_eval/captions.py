"""Thick-caption metrics (MELLA) for chat VLMs: the model captions each benchmark picture and
is scored against the row's ``reference``.

``score`` is keyword accuracy: the share of the pack's lexicon entities named in the reference
that the caption names too, in any surface form (the pack's lexicon matcher). BLEU, chrF,
ROUGE-L and METEOR go in ``metrics`` per language, each key naming its tokeniser:
``<metric>/<lang>/<tokeniser>``. Zawgyi-encoded Burmese (a reference or a caption) is skipped
and counted (``zawgyi: reference`` / ``zawgyi: caption``), never scored as Unicode.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from regionadapt.components import Context, EvalResult, Evaluator
from regionadapt.handles import ChatModel, ChatPrompt
from regionadapt.schema import Strict
from regionadapt_plugins.culture_eval.zawgyi import zawgyi_reason

ISO3 = re.compile(r"^[a-z]{3}$")


class CaptionParams(Strict):
    dataset: str = Field(min_length=1, description="a registered data-set loader")
    dataset_params: dict[str, Any] = Field(default_factory=dict)
    slice: Literal["countries"] | None = Field(
        default=None, description="'countries': keep only items whose country is in the pack"
    )
    prompt: str = Field(
        default="Describe this picture in {language}. Name what it shows.",
        description="the user turn; {language} is the row's language name",
    )
    max_new_tokens: int = Field(default=64, ge=1)
    batch_size: int = Field(default=8, ge=1, description="prompts per generate batch")
    limit: int | None = Field(default=None, ge=1, description="evaluate the first N items only")
    details: str | None = Field(default=None, description="write one JSON line per caption")


class CaptionMetrics(Evaluator):
    name = "caption-metrics"
    description = (
        "MELLA-style thick captions: keyword accuracy (lexicon entities of the reference the "
        "caption names) as the score; BLEU, chrF, ROUGE-L, METEOR per language beside it."
    )
    archs: ClassVar[tuple[str, ...]] = ("lvlm",)
    needs = ChatModel
    tasks: ClassVar[tuple[str, ...]] = ("captioning",)
    Params = CaptionParams
    # The word segmenters (pythainlp, laonlp, khmer-nltk) are optional: without one a language
    # is scored on characters, and the metric keys say so.
    requires: ClassVar[dict[str, str]] = {
        "sacrebleu": "sacrebleu", "rouge_score": "rouge-score", "nltk": "nltk",
    }  # fmt: skip

    def evaluate(self, model: Any, ctx: Context, split: str) -> EvalResult:
        p: CaptionParams = self.params  # type: ignore[assignment]
        skipped: dict[str, int] = {}
        rows = select_rows(p, ctx, split, skipped, self.name)
        captions = caption_rows(model, ctx, p, rows, skipped)
        done = []
        for r, c in zip(rows, captions, strict=True):
            if c is None:
                continue
            if not c.strip():
                bump(skipped, "empty caption")
                continue
            why = zawgyi_reason(c)
            if why:  # Zawgyi Burmese would be scored as if it were Unicode: never
                bump(skipped, f"{why}: caption")
                continue
            done.append({**r, "caption": c.strip()})
        result = score_captions(ctx, done, skipped)  # adds each row's entities
        if p.details:
            write_details(Path(p.details), done)
        return result


def bump(skipped: dict[str, int], reason: str, by: int = 1) -> None:
    skipped[reason] = skipped.get(reason, 0) + by


def select_rows(
    p: CaptionParams, ctx: Context, split: str, skipped: dict[str, int], who: str
) -> list[dict[str, Any]]:
    """Rows with a picture, a reference and a known language (the rest counted)."""
    from regionadapt.components import build

    loader = build("datasets", p.dataset, p.dataset_params, where=f"{who} dataset_params")
    ds = loader.load(ctx, split)
    if p.limit is not None and len(ds) > p.limit:
        ds = ds.select(range(p.limit))
    own = set(ctx.pack.country_codes)
    keep = []
    for i, (ref, lang, country) in enumerate(
        zip(ds["reference"], ds["lang"], ds["country"], strict=True)
    ):
        if p.slice == "countries" and country not in own:
            bump(skipped, "slice: country outside the pack")
        elif not (ref or "").strip():
            bump(skipped, "no reference caption")
        elif not ISO3.match(lang or ""):
            bump(skipped, f"unknown language ({lang!r}, expected ISO 639-3)")
        elif zawgyi_reason(ref):
            bump(skipped, f"{zawgyi_reason(ref)}: reference")
        else:
            keep.append({"i": i, "id": None, "reference": ref, "lang": lang, "country": country})
    picked = ds.select([r["i"] for r in keep]).select_columns(["id", "image"]) if keep else []
    out = []
    for r, row in zip(keep, picked, strict=True):
        if row["image"] is None:
            bump(skipped, "no image")
            continue
        out.append({**r, "id": row["id"], "image": row["image"]})
    return out


def language_name(ctx: Context, code: str) -> str:
    from regionadapt_plugins.benchmarks.codes import LANG_NAMES

    for lang in ctx.pack.languages:
        if lang.code == code:
            return lang.name
    names = {v: k for k, v in LANG_NAMES.items()}
    return names.get(code, code).title()


def caption_rows(
    model: Any, ctx: Context, p: CaptionParams, rows: list[dict[str, Any]], skipped: dict[str, int]
) -> list[str | None]:
    """The model's caption per row (None where the picture does not decode), in chunks."""
    from regionadapt.data.images import to_pil

    out: list[str | None] = []
    chunk = max(p.batch_size * 4, 32)
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        prompts, where = [], []
        for k, r in enumerate(part):
            try:
                img = to_pil(r.pop("image")).convert("RGB")
            except Exception:  # a broken file must not end the evaluation
                bump(skipped, "unreadable image")
                continue
            text = p.prompt.format(language=language_name(ctx, r["lang"]))
            r["prompt"] = text
            prompts.append(ChatPrompt(text=text, images=[img]))
            where.append(k)
        got: list[str | None] = [None] * len(part)
        if prompts:
            texts = model.generate(
                prompts, max_new_tokens=p.max_new_tokens, batch_size=p.batch_size
            )
            if len(texts) != len(prompts):
                raise RuntimeError(
                    f"generate returned {len(texts)} texts for {len(prompts)} prompts"
                )
            for k, t in zip(where, texts, strict=True):
                got[k] = t
        out.extend(got)
    return out


def score_captions(
    ctx: Context, rows: Sequence[dict[str, Any]], skipped: dict[str, int]
) -> EvalResult:
    from regionadapt.data.lexicon import LexiconMatcher
    from regionadapt_plugins.culture_eval.caption_report import language_metrics

    matcher = LexiconMatcher(ctx.pack)
    items, langs, countries = [], [], []
    for r in rows:
        ref_ids = {h.entry_id for h in matcher.find(r["reference"])}
        cap_ids = {h.entry_id for h in matcher.find(r["caption"])}
        r["entities"], r["named"] = sorted(ref_ids), sorted(cap_ids & ref_ids)
        if not ref_ids:
            bump(skipped, "keyword accuracy: reference names no lexicon entity")
            continue
        items.append(len(cap_ids & ref_ids) / len(ref_ids))
        langs.append(r["lang"])
        countries.append(r["country"] or "unknown")
    metrics = language_metrics(ctx, rows)
    groups = {"lang": by_group(items, langs), "country": by_group(items, countries)}
    score = sum(items) / len(items) if items else 0.0
    metrics["n_captions"] = float(len(rows))
    return EvalResult(score=score, n=len(items), metrics=metrics, groups=groups,
                      skipped=skipped, items=items)  # fmt: skip


def by_group(values: Sequence[float], keys: Sequence[str]) -> dict[str, dict[str, float]]:
    out: dict[str, list[float]] = {}
    for v, k in zip(values, keys, strict=True):
        out.setdefault(k, []).append(v)
    return {k: {"score": sum(v) / len(v), "n": len(v)} for k, v in sorted(out.items())}


def write_details(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(
                json.dumps({k: v for k, v in r.items() if k != "i"}, ensure_ascii=False) + "\n"
            )

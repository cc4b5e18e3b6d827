"""Open VQA and captioning for chat models: the greedy reply against the free-text reference.

Two matches are reported: exact (after stripping surrounding whitespace) and normalised (lower
case, punctuation and English articles removed: the VQA evaluation's normalisation). The score
is the normalised match; rows without a reference or an image are skipped and counted.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from regionadapt.components import Context, EvalResult
from regionadapt_plugins.chat_eval.common import ChatDataParams, ChatEvaluator
from regionadapt_plugins.chat_eval.matching import normalise
from regionadapt_plugins.embedding_eval.common import add_groups, bump, slice_indices


class OpenParams(ChatDataParams):
    max_new_tokens: int = Field(default=32, ge=1, description="reply length")


class OpenVQA(ChatEvaluator):
    name = "vqa-open"
    description = (
        "Open VQA / captioning for chat models: greedy reply vs the row's reference, exact and "
        "normalised match (the score); per country, language and category."
    )
    Params = OpenParams

    def evaluate(self, model: Any, ctx: Context, split: str) -> EvalResult:
        p, rows, skipped, metrics = self.begin(ctx, split)
        idx = []
        for i in range(rows.n):
            if not (rows["reference"][i] or "").strip():
                bump(skipped, "no reference")
            else:
                idx.append(i)
        idx = slice_indices(rows, idx, p, ctx, skipped, metrics)
        idx, prompts = self.prompts(rows, idx, skipped)
        if not idx:
            return self.empty(metrics, skipped)
        replies = model.generate(prompts, max_new_tokens=p.max_new_tokens, batch_size=p.batch_size)
        refs = [rows["reference"][i] for i in idx]
        exact = [float(r.strip() == ref.strip()) for r, ref in zip(replies, refs, strict=True)]
        norm = [float(normalise(r) == normalise(ref)) for r, ref in zip(replies, refs, strict=True)]
        metrics["exact_match"] = sum(exact) / len(exact)
        metrics["normalised_match"] = sum(norm) / len(norm)
        groups: dict[str, dict[str, dict[str, float]]] = {}
        add_groups(p, rows, idx, norm, groups, metrics, skipped)
        ctx.log(f"{self.name} {p.dataset}/{split}: normalised match "
                f"{metrics['normalised_match']:.3f}, exact {metrics['exact_match']:.3f} on "
                f"{len(idx)} items")  # fmt: skip
        return EvalResult(score=metrics["normalised_match"], n=len(idx), metrics=metrics,
                          groups=groups, skipped=skipped, items=norm)  # fmt: skip

"""Multiple-choice VQA for chat models: option log-likelihood (default) or generate + match.

Log-likelihood scores each option as the whole assistant answer (the end-of-turn token
included) and picks the most likely; ``normalize = "mean"`` divides by the option's token
count. Measured on the demo world, summed log-likelihood let merging "win" GRP in 1 of 15 runs
(it cuts long regional names' sums), the mean in 13 of 15: mean is the default, and the
result records which was used. ``method = "generate"`` lists the options with letters and
parses the reply (lmms-eval's way), for models or papers that score it so.
"""

from __future__ import annotations

import json
import random
from typing import Any, Literal

from pydantic import Field

from regionadapt.components import Context, EvalResult
from regionadapt_plugins.chat_eval.common import ChatDataParams, ChatEvaluator
from regionadapt_plugins.chat_eval.matching import match_option, options_block
from regionadapt_plugins.embedding_eval.common import add_groups, bump, slice_indices

INSTRUCTION = "Answer with the option's letter from the given choices directly."
LABEL_OPTIONS = 4  # label names offered per classification row (the right one and 3 others)


class MultipleChoiceParams(ChatDataParams):
    method: Literal["loglik", "generate"] = Field(
        default="loglik",
        description="'loglik': the most likely option; 'generate': list the options with "
        "letters, generate, match the reply to a letter or an option's text",
    )
    normalize: Literal["mean", "sum"] = Field(
        default="mean",
        description="log-likelihood per option: mean over its tokens (length-normalised) or sum",
    )
    list_options: bool = Field(
        default=False,
        description="with 'loglik': also list the lettered options in the question",
    )
    max_new_tokens: int = Field(default=16, ge=1, description="reply length with 'generate'")
    options_from_labels: int | None = Field(
        default=None,
        ge=2,
        description="turn classification rows (a label, no options) into multiple choice among "
        "this many label names: the right one and others of the benchmark drawn at random "
        "(seeded per item)",
    )


class VQAMultipleChoice(ChatEvaluator):
    name = "vqa-multiple-choice"
    description = (
        "Multiple-choice VQA for chat models by option log-likelihood (length-normalised by "
        "default) or by generating and matching the answer; accuracy overall, per country, "
        "language and category."
    )
    tasks = ("multiple-choice-vqa",)
    Params = MultipleChoiceParams

    @classmethod
    def pack_params(cls, bench: Any, pack: Any) -> dict[str, Any] | None:
        """The default mapping, plus ``options_from_labels`` for a loader of classification
        rows (MaRVL, Dollar Street...): without it every row would be skipped as having
        fewer than 2 options."""
        from regionadapt.plugins import registry

        params = super().pack_params(bench, pack)
        if params and getattr(registry("datasets").get(params["dataset"]), "label_rows", False):
            params["options_from_labels"] = LABEL_OPTIONS
        return params

    def evaluate(self, model: Any, ctx: Context, split: str) -> EvalResult:
        p, rows, skipped, metrics = self.begin(ctx, split)
        options, answers = self._options(rows, ctx)
        idx = []
        for i in range(rows.n):
            if len(options[i]) < 2:
                bump(skipped, "fewer than 2 options")
            elif not 0 <= answers[i] < len(options[i]):
                bump(skipped, "answer is not among the options")
            else:
                idx.append(i)
        idx = slice_indices(rows, idx, p, ctx, skipped, metrics)
        idx, prompts = self.prompts(rows, idx, skipped, lambda i: self._question(rows, i, options))
        if not idx:
            return self.empty(metrics, skipped)
        picks = self._pick(model, prompts, [options[i] for i in idx], metrics)
        correct = [1.0 if k == answers[i] else 0.0 for k, i in zip(picks, idx, strict=True)]
        metrics["accuracy"] = sum(correct) / len(correct)
        metrics["chance"] = sum(1.0 / len(options[i]) for i in idx) / len(idx)
        groups: dict[str, dict[str, dict[str, float]]] = {}
        add_groups(p, rows, idx, correct, groups, metrics, skipped)
        how = p.method if p.method == "generate" else f"loglik-{p.normalize}"
        ctx.log(f"{self.name} {p.dataset}/{split} ({how}): acc {metrics['accuracy']:.3f} on "
                f"{len(idx)} items")  # fmt: skip
        return EvalResult(score=metrics["accuracy"], n=len(idx), metrics=metrics,
                          groups=groups, skipped=skipped, items=correct)  # fmt: skip

    def _options(self, rows: Any, ctx: Context) -> tuple[list[list[str]], list[int]]:
        p = self.params
        options = [list(o or []) for o in rows["options"]]
        answers = [int(a) if a is not None else -1 for a in rows["answer"]]
        if p.options_from_labels:
            names = sorted({lab for lab in rows["label"] if lab})
            for i, lab in enumerate(rows["label"]):
                if options[i] or not lab:
                    continue
                rng = random.Random(json.dumps([ctx.seed, str(rows["id"][i])]))
                others = rng.sample([n for n in names if n != lab],
                                    min(p.options_from_labels - 1, len(names) - 1))  # fmt: skip
                opts = [lab, *others]
                rng.shuffle(opts)
                options[i], answers[i] = opts, opts.index(lab)
        return options, answers

    def _question(self, rows: Any, i: int, options: list[list[str]]) -> str:
        p = self.params
        q = rows["text"][i] or p.empty_question
        if p.method == "generate" or p.list_options:
            q = f"{q}\n{options_block(options[i])}"
        return f"{q}\n{INSTRUCTION}" if p.method == "generate" else q

    def _pick(self, model: Any, prompts: list, options: list[list[str]], metrics: dict) -> list:
        p = self.params
        if p.method == "loglik":
            metrics["length_normalised"] = 1.0 if p.normalize == "mean" else 0.0
            scores = model.option_logprobs(prompts, options, normalize=p.normalize,
                                           batch_size=p.batch_size)  # fmt: skip
            return [max(range(len(s)), key=s.__getitem__) for s in scores]
        replies = model.generate(prompts, max_new_tokens=p.max_new_tokens, batch_size=p.batch_size)
        picks = [match_option(r, o) for r, o in zip(replies, options, strict=True)]
        metrics["unmatched_replies"] = float(sum(k is None for k in picks))
        return [-1 if k is None else k for k in picks]

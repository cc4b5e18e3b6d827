"""VQAScore-style judging of generated images: ask a chat VLM whether the picture shows the
prompt, and score the probability of "Yes".

VQAScore (Lin et al. 2024, https://linzhiqiu.github.io/papers/vqascore/) asks
``Does this figure show "{text}"? Please answer yes or no.`` and scores P("Yes"). Here the
judge is any registered chat backend's ``ChatModel``: its ``option_logprobs`` gives the
log-likelihood of "Yes" and of "No" as the whole answer, and the item score is
P(Yes | Yes or No) = exp(lp_yes) / (exp(lp_yes) + exp(lp_no)), in [0, 1]. Prompts, seeds,
groups, saved images and contact sheets are those of ``clip-score``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

from pydantic import Field

from regionadapt.components import Context
from regionadapt.errors import ConfigError
from regionadapt.handles import ChatModel, ChatPrompt
from regionadapt.schema import Strict
from regionadapt_plugins.t2i_eval.clip_score import ClipScore, ClipScoreParams, load_judge

QUESTION = 'Does this figure show "{text}"? Please answer yes or no.'
OPTIONS = ("Yes", "No")


class VqaScoreParams(ClipScoreParams):
    metric: Literal["p-yes"] = Field(  # type: ignore[assignment]
        default="p-yes", description="the judge's P(Yes) per prompt (the only metric here)"
    )
    judge_backend: str = Field(default="transformers", description="a registered chat backend")
    judge: str = Field(  # type: ignore[assignment]
        description="the chat VLM judge: a folder or hub id its backend loads"
    )
    question: str = Field(
        default=QUESTION, description="asked with each image; '{text}' is the prompt"
    )
    judge_batch_size: int = Field(default=8, ge=1)


def yes_probabilities(
    judge: Any, images: list[Any], texts: list[str], question: str = QUESTION, batch: int = 8
) -> list[float]:
    """P(Yes | Yes or No) per (image, text) pair."""
    prompts = [
        ChatPrompt(question.format(text=t), [img]) for img, t in zip(images, texts, strict=True)
    ]
    lps = judge.option_logprobs(prompts, [list(OPTIONS)] * len(prompts), normalize="sum",
                                batch_size=batch)  # fmt: skip
    out = []
    for yes, no in lps:
        top = max(yes, no)
        out.append(math.exp(yes - top) / (math.exp(yes - top) + math.exp(no - top)))
    return out


class VqaScore(ClipScore):
    name = "vqa-score"
    description = (
        "VQAScore-style: P(Yes) when a chat VLM is asked whether the generated image shows "
        "the prompt (normalised over Yes/No); prompts as clip-score (lexicon, dense, data set)."
    )
    Params: ClassVar[type[Strict]] = VqaScoreParams
    tasks: ClassVar[tuple[str, ...]] = ()  # needs a chat judge: never written by init

    @classmethod
    def pack_params(cls, bench: Any, pack: Any) -> dict[str, Any] | None:
        return None

    def score_images(
        self, ctx: Context, images: list[Any], items: list[dict[str, Any]]
    ) -> tuple[list[float], dict[str, Any]]:
        texts = [it["text"] for it in items]
        p: VqaScoreParams = self.params  # type: ignore[assignment]
        if "{text}" not in p.question:
            raise ConfigError(f"vqa-score: question {p.question!r} has no '{{text}}' placeholder")
        judge = load_judge(p.judge_backend, p.judge, ctx, ChatModel, "vqa-score")
        probs = yes_probabilities(judge, images, texts, p.question, p.judge_batch_size)
        return probs, {
            "metrics": {
                "p_yes": sum(probs) / len(probs),
                "share_yes": sum(x > 0.5 for x in probs) / len(probs),
            },  # fmt: skip
            "raw": sum(probs) / len(probs),
            "raw_name": "VQAScore",
            "normalization": "mean over prompts of P(Yes) / (P(Yes) + P(No)) from the judge",
        }

    def prompt_set(self) -> str:
        return f"vqa-{super().prompt_set()}"

"""Value alignment with and without pictures ("Beyond Words"), for chat VLMs.

Each survey question is asked about each country in four conditions: {a picture of the country,
no picture} x {the country named in the prompt, not named}. The model's answer distribution is
the softmax of the option letters' log-likelihoods over the letters offered; its similarity to
the country's people is ``1 - JSD`` (base 2). Items are (question, country) pairs; confidence
intervals resample questions. See docs/culture-evaluation.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from regionadapt.components import Context, EvalResult, Evaluator
from regionadapt.handles import ChatModel, ChatPrompt
from regionadapt.schema import Strict
from regionadapt_plugins.culture_eval.images import CountryImage, ImageSetParams

CONDITIONS = ("image+named", "image+unnamed", "text+named", "text+unnamed")
ISO2 = re.compile(r"^[A-Z]{2}$")
ISO3 = re.compile(r"^[a-z]{3}$")


class ValueAlignmentParams(Strict):
    dataset: str = Field(default="global-opinions", description="a registered data-set loader")
    dataset_params: dict[str, Any] = Field(default_factory=dict)
    countries: Literal["pack", "rest"] | list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] = Field(
        default="pack",
        description="'pack': the pack's countries (regional role); 'rest': every other country "
        "in the data (global role); or a list of ISO alpha-2 codes",
    )
    images: ImageSetParams | None = Field(
        default=None, description="the picture set; without it only the two text conditions run"
    )
    named_prefix: str = Field(
        default="How would someone from {country} answer the following question?\n",
        description="put before the question in the 'named' conditions",
    )
    template: str = Field(
        default="{prefix}Question: {question}\n{options}\nAnswer with the letter of one option.",
        description="the prompt; {prefix}, {question} and {options} (lettered lines)",
    )
    score_condition: Literal[
        "mean", "image+named", "image+unnamed", "text+named", "text+unnamed"
    ] = Field(default="mean", description="the condition the score is (mean: of all run)")
    limit: int | None = Field(default=None, ge=1, description="the first N questions only")
    batch_size: int = Field(default=8, ge=1, description="prompts per option_logprobs batch")
    n_boot: int = Field(default=1000, ge=100, description="bootstrap resamples for the CIs")
    details: str | None = Field(
        default=None, description="write one JSON line per item and condition (prompt included)"
    )


@dataclass
class Pair:
    """One (question, country) item and its model answers per condition."""

    qid: str
    country: str
    country_name: str
    topic: str
    question: str
    options: list[str]
    human: Any  # np.ndarray
    prompts: dict[str, list[ChatPrompt]] = field(default_factory=dict)
    images: list[CountryImage] = field(default_factory=list)
    dists: dict[str, list[Any]] = field(default_factory=dict)  # per condition, per prompt


class ValueAlignment(Evaluator):
    name = "value-alignment"
    description = (
        "Survey answer distributions vs each country's people (1 - Jensen-Shannon distance, "
        "base 2) with and without a picture of the country, named or not; per topic, "
        "country and condition, and the image effect with bootstrap CIs over questions."
    )
    archs: ClassVar[tuple[str, ...]] = ("lvlm",)
    needs = ChatModel
    tasks: ClassVar[tuple[str, ...]] = ("values",)
    Params = ValueAlignmentParams

    @classmethod
    def pack_params(cls, bench: Any, pack: Any) -> dict[str, Any] | None:
        """A pack's ``values`` benchmark (e.g. ``globalopinionqa-sea``): GlobalOpinionQA on the
        pack's countries for a regional benchmark, on the rest for a global one."""
        if bench.task != "values":
            return None
        where = {"hub_id": bench.hub_id} if bench.hub_id else {"path": "/path/to/local/copy"}
        countries = "pack" if bench.role == "regional" else "rest"
        return {"dataset": "global-opinions", "dataset_params": where, "countries": countries}

    def evaluate(self, model: Any, ctx: Context, split: str) -> EvalResult:
        from regionadapt_plugins.culture_eval.values_report import report
        from regionadapt_plugins.culture_eval.values_run import build_pairs, run_conditions

        p: ValueAlignmentParams = self.params  # type: ignore[assignment]
        skipped: dict[str, int] = {}
        pairs, conditions = build_pairs(p, ctx, split, skipped, self.name)
        pairs = run_conditions(model, pairs, conditions, p.batch_size, skipped)
        if p.details:
            write_details(Path(p.details), pairs, conditions)
        return report(p, pairs, conditions, skipped, ctx.seed)


def write_details(path: Path, pairs: Sequence[Pair], conditions: Sequence[str]) -> None:
    from regionadapt_plugins.culture_eval.alignment import similarity

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for pr in pairs:
            for cond in conditions:
                for k, (prompt, dist) in enumerate(
                    zip(pr.prompts[cond], pr.dists[cond], strict=True)
                ):
                    rec = {
                        "question_id": pr.qid, "country": pr.country, "topic": pr.topic,
                        "condition": cond, "prompt": prompt.text,
                        "image": pr.images[k].id if cond.startswith("image") else None,
                        "model": [round(float(x), 6) for x in dist],
                        "human": [round(float(x), 6) for x in pr.human],
                        "similarity": similarity(dist, pr.human),
                    }  # fmt: skip
                    fh.write(json.dumps(rec, ensure_ascii=False) + "\n")

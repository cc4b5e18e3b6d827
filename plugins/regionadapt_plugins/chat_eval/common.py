"""What every chat-model evaluator shares: its data params, the benchmark rows, images, prompts.

Evaluators touch the model only through the ``ChatModel`` handle (``generate``,
``option_logprobs``), so any chat backend works alike. Rows are read through the registered
data-set loaders in the common benchmark schema and grouped per country, language and category
with the embedding evaluators' helpers (one implementation of per-group scores).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from regionadapt.components import Context, EvalResult, Evaluator
from regionadapt.data.images import to_pil
from regionadapt.handles import ChatModel, ChatPrompt
from regionadapt.schema import Strict
from regionadapt_plugins.embedding_eval.common import Rows, bump, load_rows

# Benchmarks up to this many items keep their decoded images between models.
KEEP_IMAGES = 5000


class ChatDataParams(Strict):
    """Which benchmark to read, how much of it, and how to group the scores."""

    dataset: str = Field(min_length=1, description="a registered data-set loader name")
    dataset_params: dict[str, Any] = Field(default_factory=dict)
    slice: Literal["countries"] | None = Field(
        default=None, description="'countries': keep only items whose country is in the pack"
    )
    limit: int | None = Field(default=None, ge=1, description="evaluate the first N items only")
    batch_size: int = Field(default=8, ge=1, description="sequences per model call")
    system: str | None = Field(default=None, description="a system turn before every question")
    empty_question: str = Field(
        default="What is shown in this image?",
        description="the question asked for items whose text is empty",
    )
    stratify_by: str | None = Field(
        default="category",
        description="extra grouping beside country and language: a column or a meta key",
    )
    bins: list[float] | None = Field(default=None, description="edges for a numeric stratify_by")
    min_group_n: int = Field(default=1, ge=1, description="smallest group counted in worst_group")


class ChatEvaluator(Evaluator):
    """Base of the chat evaluators: the handle they need, rows, prompts, the empty result."""

    archs: ClassVar[tuple[str, ...]] = ("lvlm",)
    needs: ClassVar[type | None] = ChatModel
    Params = ChatDataParams

    def begin(self, ctx: Context, split: str) -> tuple[Any, Rows, dict[str, int], dict[str, float]]:
        # The same evaluator scores base, tuned and every merge candidate on a split: the rows
        # (and their decoded images, see prompts) are read once per split and pack.
        p = self.params
        key = (split, getattr(ctx.pack, "id", None), ctx.seed)
        cache = self.__dict__.setdefault("_rows", {})
        if key not in cache:
            cache.clear()
            self.__dict__["_images"] = {}
            cache[key] = load_rows(p, ctx, split, self.name)
        return p, cache[key], {}, {}

    @staticmethod
    def empty(metrics: dict[str, float], skipped: dict[str, int]) -> EvalResult:
        return EvalResult(score=0.0, n=0, metrics=metrics, skipped=skipped)

    def prompts(
        self, rows: Rows, idx: list[int], skipped: dict[str, int], text: Any = None
    ) -> tuple[list[int], list[ChatPrompt]]:
        """One prompt per row that has a readable image; rows without one are counted.

        ``text(i)`` gives the question for row ``i`` (default: the row's text, or
        ``empty_question`` when it is empty)."""
        p = self.params
        images = self._decoded(rows, idx)
        keep, out = [], []
        for i in idx:
            img = images[i]
            if isinstance(img, str):  # why it has none
                bump(skipped, img)
                continue
            q = text(i) if text else (rows["text"][i] or p.empty_question)
            keep.append(i)
            out.append(ChatPrompt(text=q, images=[img], system=p.system))
        return keep, out

    def _decoded(self, rows: Rows, idx: list[int]) -> dict[int, Any]:
        """Row -> RGB image, or the reason it has none; decoded once per split (small
        benchmarks; a large one is decoded a chunk at a time and not kept)."""
        cache = self.__dict__.setdefault("_images", {})
        todo = [i for i in idx if i not in cache]
        keep = len(idx) <= KEEP_IMAGES
        out = dict(cache) if keep else {}
        ds = rows.ds.select_columns(["image"])
        for start in range(0, len(todo), 256):  # decode a chunk at a time
            part = todo[start : start + 256]
            for i, value in zip(part, ds.select(part)["image"], strict=True):
                if value is None or value == b"":
                    out[i] = "missing image"
                    continue
                try:
                    out[i] = to_pil(value).convert("RGB")
                except Exception:  # a broken file must not end the evaluation
                    out[i] = "unreadable image"
        if keep:
            cache.update(out)
        return out

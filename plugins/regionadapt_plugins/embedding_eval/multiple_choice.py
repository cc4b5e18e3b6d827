"""Zero-shot multiple choice for embedding models: the image against its own row's options.

How GG-EZ scores an embedding model on VQA sets (CVQA, SEA-VQA): the option whose text
embedding is closest to the image embedding is the model's answer. Every distinct option text
is encoded once (options repeat across rows), images are encoded in batches.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from regionadapt.components import Context, EvalResult
from regionadapt_plugins.embedding_eval.common import (
    DataParams,
    EmbeddingEvaluator,
    add_groups,
    bump,
    encode_images,
    encode_unique_texts,
    slice_indices,
)


class MultipleChoiceParams(DataParams):
    option_template: str = Field(
        default="{option}",
        description="text encoded per option; may use {option} and {question} (the row's text)",
    )


class MultipleChoice(EmbeddingEvaluator):
    name = "multiple-choice"
    description = (
        "Zero-shot multiple choice: the option text most similar to the image is the answer. "
        "Accuracy overall, per country and per language."
    )
    tasks = ("multiple-choice-vqa",)
    Params = MultipleChoiceParams

    def evaluate(self, model: Any, ctx: Context, split: str) -> EvalResult:
        import numpy as np
        import torch

        p, rows, skipped, metrics = self.begin(ctx, split)
        idx = []
        for i, (opts, ans) in enumerate(zip(rows["options"], rows["answer"], strict=True)):
            if not opts or len(opts) < 2:
                bump(skipped, "fewer than 2 options")
            elif ans is None or not 0 <= int(ans) < len(opts):
                bump(skipped, "answer is not an option index")
            else:
                idx.append(i)
        idx = slice_indices(rows, idx, p, ctx, skipped, metrics)
        img, idx = encode_images(model, rows, idx, p.batch_size, skipped) if idx else (None, [])
        if not idx:
            return self.empty(metrics, skipped)

        texts = {i: [self._text(o, rows["text"][i]) for o in rows["options"][i]] for i in idx}
        emb, index = encode_unique_texts(
            model, [t for i in idx for t in texts[i]], p.text_batch_size
        )
        correct = np.zeros(len(idx), dtype=np.float64)
        # Group rows by option count so each group is one batched similarity product.
        by_k: dict[int, list[int]] = {}
        for pos, i in enumerate(idx):
            by_k.setdefault(len(texts[i]), []).append(pos)
        for _k, positions in by_k.items():
            opt_rows = torch.tensor([[index[t] for t in texts[idx[q]]] for q in positions])
            sims = torch.einsum("nd,nkd->nk", img[positions], emb[opt_rows])
            pred = sims.argmax(dim=1).numpy()
            answers = np.array([int(rows["answer"][idx[q]]) for q in positions])
            correct[positions] = pred == answers
        metrics["accuracy"] = float(correct.mean())
        metrics["chance"] = float(np.mean([1.0 / len(texts[i]) for i in idx]))
        groups: dict[str, dict[str, dict[str, float]]] = {}
        add_groups(p, rows, idx, correct, groups, metrics, skipped)
        ctx.log(
            f"{self.name} {p.dataset}/{split}: acc {metrics['accuracy']:.3f} on {len(idx)} items"
        )
        return EvalResult(
            score=metrics["accuracy"],
            n=len(idx),
            metrics=metrics,
            groups=groups,
            skipped=skipped,
            items=correct.tolist(),
        )

    def _text(self, option: str, question: str) -> str:
        return self.params.option_template.format(option=option, question=question or "")

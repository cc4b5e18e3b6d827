"""Zero-shot classification: each image against one prompt-ensembled text vector per class.

Computed exactly as CLIP_benchmark does (the numbers users compare with): per class, the
normalised text embeddings of every template are averaged and re-normalised; an image's class
is the arg-max of its cosine similarity with those vectors. On top: accuracy per country, per
language and per ``stratify_by`` group (e.g. Dollar Street income bins), worst group and gap.
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
    fill_template,
    slice_indices,
)


class ZeroShotParams(DataParams):
    templates: list[str] = Field(
        default_factory=lambda: ["a photo of a {}."],
        min_length=1,
        description="prompt templates; '{}' or '{c}' is replaced by the class name",
    )
    classes: list[str] | None = Field(
        default=None,
        description="the candidate classes; default: every distinct label in the data set "
        "(before slicing, so regional and global slices face the same choices)",
    )


class ZeroShotClassification(EmbeddingEvaluator):
    name = "zero-shot-classification"
    description = (
        "Zero-shot classification accuracy (CLIP_benchmark's method) with accuracy per "
        "country, language and an optional stratify_by column or binned numeric meta key."
    )
    tasks = ("zero-shot-classification",)
    Params = ZeroShotParams

    def evaluate(self, model: Any, ctx: Context, split: str) -> EvalResult:
        import torch

        p, rows, skipped, metrics = self.begin(ctx, split)
        labels = rows["label"]
        classes = list(p.classes) if p.classes else sorted({str(x) for x in labels if x})
        if not classes:
            raise ValueError(f"data set {p.dataset!r} ({split}): no item has a label to classify")
        class_of = {c: k for k, c in enumerate(classes)}
        idx = []
        for i, lab in enumerate(labels):
            if not lab:
                bump(skipped, "no label")
            elif lab not in class_of:
                bump(skipped, "label not among classes")
            else:
                idx.append(i)
        idx = slice_indices(rows, idx, p, ctx, skipped, metrics)
        if not idx:
            return self.empty(metrics, skipped)

        weights = class_weights(model, classes, p.templates, p.text_batch_size)
        img, idx = encode_images(model, rows, idx, p.batch_size, skipped)
        if not idx:
            return self.empty(metrics, skipped)
        logits = img @ weights.T
        target = torch.tensor([class_of[labels[i]] for i in idx])
        pred = logits.argmax(dim=1)
        correct = (pred == target).float()
        metrics["acc1"] = float(correct.mean())
        if len(classes) >= 5:
            top5 = logits.topk(5, dim=1).indices
            metrics["acc5"] = float((top5 == target[:, None]).any(dim=1).float().mean())
        present = target.unique()
        recalls = [float(correct[target == c].mean()) for c in present]
        metrics["mean_per_class_recall"] = sum(recalls) / len(recalls)
        metrics["n_classes"] = float(len(classes))
        groups: dict[str, dict[str, dict[str, float]]] = {}
        add_groups(p, rows, idx, correct.numpy(), groups, metrics, skipped)
        ctx.log(f"{self.name} {p.dataset}/{split}: acc {metrics['acc1']:.3f} on {len(idx)} items")
        return EvalResult(
            score=metrics["acc1"],
            n=len(idx),
            metrics=metrics,
            groups=groups,
            skipped=skipped,
            items=correct.tolist(),
        )


def class_weights(model: Any, classes: list[str], templates: list[str], batch_size: int) -> Any:
    """[C, D] unit vectors: the mean of each class's normalised template embeddings."""
    import torch.nn.functional as F

    texts = [fill_template(t, c) for c in classes for t in templates]
    emb, index = encode_unique_texts(model, texts, batch_size)
    emb = F.normalize(emb, dim=-1)
    rows = [index[t] for t in texts]
    per = emb[rows].reshape(len(classes), len(templates), -1).mean(dim=1)
    return F.normalize(per, dim=-1)

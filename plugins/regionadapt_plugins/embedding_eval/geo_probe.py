"""Few-shot geo-localisation: a closed-form ridge probe on frozen image embeddings.

No Filter's test of how much an embedding knows about where a photo was taken: per class
(country, or region), ``k`` images train an L2-regularised least-squares map from embeddings to
one-hot targets (with an intercept, as scikit-learn's ``Ridge``); top-1 accuracy on the rest.
Repeated over seeds and shot counts (5/10/25). Images are encoded once; every fit is numpy.
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
    group_scores,
    slice_indices,
)


class GeoProbeParams(DataParams):
    target: str = Field(default="country", description="column or meta key to predict")
    shots: list[int] = Field(default_factory=lambda: [5, 10, 25], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    alpha: float = Field(default=1.0, gt=0, description="L2 strength (scikit-learn's alpha)")
    score_shots: int = Field(default=10, ge=1, description="headline: accuracy at this k")
    train_split: str | None = Field(
        default=None,
        description="draw the shots from this split and test on the evaluated one; default: "
        "both from the evaluated split (shots drawn, the rest tested)",
    )


def ridge_fit(x: Any, y: Any, alpha: float) -> tuple[Any, Any]:
    """Weights [D, C] and intercept [C] minimising ||y - xW - b||^2 + alpha ||W||^2.

    Centring x and y first gives the intercept exactly as scikit-learn's Ridge does; the
    dual form is used when there are fewer samples than dimensions (few-shot: always cheap).
    """
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    xm, ym = x.mean(0), y.mean(0)
    xc, yc = x - xm, y - ym
    n, d = xc.shape
    if n < d:
        w = xc.T @ np.linalg.solve(xc @ xc.T + alpha * np.eye(n), yc)
    else:
        w = np.linalg.solve(xc.T @ xc + alpha * np.eye(d), xc.T @ yc)
    return w, ym - xm @ w


class GeoProbe(EmbeddingEvaluator):
    name = "geo-probe"
    description = (
        "Few-shot geo-localisation: closed-form ridge probe on frozen image embeddings, "
        "k shots per country (or region), top-1 accuracy averaged over seeds."
    )
    tasks = ("geo-localisation",)
    Params = GeoProbeParams

    def evaluate(self, model: Any, ctx: Context, split: str) -> EvalResult:
        import numpy as np

        p: GeoProbeParams = self.params  # type: ignore[assignment]
        skipped: dict[str, int] = {}
        metrics: dict[str, float] = {}
        test = self._prepared(model, ctx, split, skipped, metrics)
        train = (
            test
            if p.train_split is None
            else self._prepared(model, ctx, p.train_split, skipped, {})
        )
        rows, idx, feats, labels = test
        reported: dict[int, float] = {}
        per_item: dict[int, dict[int, list[float]]] = {}  # shots -> test row -> hits
        for k in sorted(set(p.shots)):
            accs = []
            for seed in p.seeds:
                out = self._one(train, test, k, seed, p, skipped if seed == p.seeds[0] else {})
                if out is None:
                    break
                acc, hits = out
                accs.append(acc)
                for i, h in hits.items():
                    per_item.setdefault(k, {}).setdefault(i, []).append(h)
            if accs:
                reported[k] = float(np.mean(accs))
                metrics[f"top1@{k}shot"] = reported[k]
                metrics[f"top1@{k}shot_std"] = float(np.std(accs))
        if not reported:
            return self.empty(metrics, skipped)
        below = [k for k in reported if k <= p.score_shots]
        k_head = max(below) if below else min(reported)
        metrics["score_shots"] = float(k_head)
        metrics["n_classes"] = float(len(set(labels)))
        items = sorted(per_item[k_head])
        values = np.array([np.mean(per_item[k_head][i]) for i in items])
        groups: dict[str, dict[str, dict[str, float]]] = {}
        add_groups(p, rows, items, values, groups, metrics, skipped)
        if p.target not in ("country", "lang"):
            label_of = dict(zip(idx, labels, strict=True))
            groups[p.target] = group_scores(values, [label_of[i] for i in items])
        ctx.log(f"{self.name} {p.dataset}/{split}: top-1 {reported[k_head]:.3f} at {k_head} shots")
        return EvalResult(
            score=reported[k_head], n=len(items), metrics=metrics, groups=groups, skipped=skipped
        )

    def _prepared(
        self,
        model: Any,
        ctx: Context,
        split: str,
        skipped: dict[str, int],
        metrics: dict[str, float],
    ) -> tuple[Any, list[int], Any, list[str]]:
        """Rows with a usable target, their image embeddings (numpy) and target labels."""
        p: GeoProbeParams = self.params  # type: ignore[assignment]
        _, rows, _, _ = self.begin(ctx, split)
        idx = []
        for i in range(rows.n):
            if rows.value(p.target, i) is None:
                bump(skipped, f"no {p.target}")
            else:
                idx.append(i)
        idx = slice_indices(rows, idx, p, ctx, skipped, metrics)
        emb, idx = encode_images(model, rows, idx, p.batch_size, skipped) if idx else (None, [])
        feats = emb.numpy() if idx else None
        return rows, idx, feats, [str(rows.value(p.target, i)) for i in idx]

    def _one(
        self,
        train: tuple,
        test: tuple,
        k: int,
        seed: int,
        p: GeoProbeParams,
        skipped: dict[str, int],
    ) -> tuple[float, dict[int, float]] | None:
        """One fit at ``k`` shots: accuracy and each test row's hit; None if < 2 classes."""
        import numpy as np

        _, tr_idx, tr_x, tr_y = train
        _, te_idx, te_x, te_y = test
        same = train is test
        need = k + 1 if same else k  # drawing from one split leaves >= 1 item to test
        by_class: dict[str, list[int]] = {}
        for pos, lab in enumerate(tr_y):
            by_class.setdefault(lab, []).append(pos)
        rng = np.random.default_rng(seed)
        classes, chosen = [], []
        for lab in sorted(by_class):
            members = by_class[lab]
            if len(members) < need:
                bump(
                    skipped,
                    f"{k}-shot: {p.target} {lab} has {len(members)} < {need} items",
                    len(members),
                )
                continue
            classes.append(lab)
            chosen.extend(rng.choice(members, size=k, replace=False).tolist())
        if len(classes) < 2:
            bump(skipped, f"{k}-shot: fewer than 2 {p.target} values with enough items")
            return None
        col = {c: j for j, c in enumerate(classes)}
        y = np.zeros((len(chosen), len(classes)))
        y[np.arange(len(chosen)), [col[tr_y[q]] for q in chosen]] = 1.0
        w, b = ridge_fit(tr_x[chosen], y, p.alpha)
        taken = set(chosen) if same else set()
        test_pos = [q for q, lab in enumerate(te_y) if lab in col and q not in taken]
        if not same:
            unseen = sum(1 for lab in te_y if lab not in col)
            if unseen:
                bump(skipped, f"{k}-shot: test items of a {p.target} without shots", unseen)
        pred = (te_x[test_pos] @ w + b).argmax(1)
        truth = np.array([col[te_y[q]] for q in test_pos])
        hits = (pred == truth).astype(float)
        return float(hits.mean()), {
            te_idx[q]: float(h) for q, h in zip(test_pos, hits, strict=True)
        }

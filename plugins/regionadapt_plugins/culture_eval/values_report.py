"""Value alignment, part 2: similarities per item and condition, groups, effects and CIs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from regionadapt.components import EvalResult
from regionadapt_plugins.culture_eval.alignment import bootstrap_ci, similarity

if TYPE_CHECKING:
    from regionadapt_plugins.culture_eval.values import Pair, ValueAlignmentParams

NORMALIZATION = (
    "1 - Jensen-Shannon distance (scipy, base 2) between the model's answer distribution "
    "(softmax of the option letters' summed log-likelihoods over the letters offered; with "
    "several pictures, their distributions averaged) and the country's survey shares; "
    "score = mean over (question, country) items of the score condition"
)


def pair_similarities(pr: Pair, conditions: Sequence[str]) -> dict[str, float]:
    return {c: similarity(np.mean(pr.dists[c], axis=0), pr.human) for c in conditions}


def report(
    p: ValueAlignmentParams,
    pairs: Sequence[Pair],
    conditions: Sequence[str],
    skipped: dict[str, int],
    seed: int,
) -> EvalResult:
    if not pairs:
        return EvalResult(score=0.0, n=0, skipped=skipped, items=[])
    sims = [pair_similarities(pr, conditions) for pr in pairs]
    items = [
        float(np.mean([s[c] for c in conditions])) if p.score_condition == "mean"
        else s[p.score_condition]
        for s in sims
    ]  # fmt: skip
    qids = [pr.qid for pr in pairs]
    metrics: dict[str, float] = {"n_questions": float(len(set(qids)))}
    groups: dict[str, dict[str, dict[str, float]]] = {"condition": {}}
    for c in conditions:
        vals = [s[c] for s in sims]
        put_ci(metrics, f"similarity[{c}]", vals, qids, p.n_boot, seed)
        groups["condition"][c] = {"score": float(np.mean(vals)), "n": len(vals)}
        for key in ("topic", "country"):
            groups[f"{key}[{c}]"] = by_group(vals, [getattr(pr, key) for pr in pairs])
    for key in ("topic", "country"):
        groups[key] = by_group(items, [getattr(pr, key) for pr in pairs])
    if "image+named" in conditions:
        image_effects(p, pairs, sims, metrics, seed)
        groups.update(income_groups(pairs, conditions))
    score = float(np.mean(items))
    return EvalResult(
        score=score, n=len(items), metrics=metrics, groups=groups, skipped=skipped,
        items=items, raw=score, raw_name="1 - JSD (base 2)", normalization=NORMALIZATION,
    )  # fmt: skip


def put_ci(
    metrics: dict[str, float], name: str, vals: Sequence[float], qids: Sequence[str],
    n_boot: int, seed: int,
) -> None:  # fmt: skip
    mean, lo, hi = bootstrap_ci(vals, qids, n_boot=n_boot, seed=seed)
    metrics[name] = mean
    metrics[f"{name}.ci_low"] = lo
    metrics[f"{name}.ci_high"] = hi


def image_effects(
    p: ValueAlignmentParams, pairs: Sequence[Pair], sims: Sequence[dict[str, float]],
    metrics: dict[str, float], seed: int,
) -> None:  # fmt: skip
    """Image minus no image (paired per item), overall and per topic and country, with CIs."""
    for named in ("named", "unnamed"):
        diff = [s[f"image+{named}"] - s[f"text+{named}"] for s in sims]
        qids = [pr.qid for pr in pairs]
        put_ci(metrics, f"image_effect[{named}]", diff, qids, p.n_boot, seed)
        for key in ("topic", "country"):
            for g in sorted({getattr(pr, key) for pr in pairs}):
                idx = [i for i, pr in enumerate(pairs) if getattr(pr, key) == g]
                put_ci(metrics, f"image_effect[{named}].{key}.{g}", [diff[i] for i in idx],
                       [qids[i] for i in idx], p.n_boot, seed)  # fmt: skip


def by_group(values: Sequence[float], keys: Sequence[str]) -> dict[str, dict[str, float]]:
    out: dict[str, list[float]] = {}
    for v, k in zip(values, keys, strict=True):
        out.setdefault(k, []).append(v)
    return {k: {"score": float(np.mean(v)), "n": len(v)} for k, v in sorted(out.items())}


def income_groups(pairs: Sequence[Pair], conditions: Sequence[str]) -> dict[str, dict]:
    """Similarity per income bin of the picture shown (one value per picture)."""
    out: dict[str, dict] = {}
    for c in (c for c in conditions if c.startswith("image")):
        vals, keys = [], []
        for pr in pairs:
            for im, dist in zip(pr.images, pr.dists[c], strict=True):
                if im.income_bin:
                    vals.append(similarity(dist, pr.human))
                    keys.append(im.income_bin)
        if vals:
            out[f"income_bin[{c}]"] = by_group(vals, keys)
    return out

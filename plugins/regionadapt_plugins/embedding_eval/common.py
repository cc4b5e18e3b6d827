"""What every embedding evaluator shares: its data params, loading and slicing the benchmark,
decoding and encoding images in batches, and per-group accuracy.

Evaluators touch the model only through the embedding handle's two methods,
``encode_images(list[PIL.Image], batch_size) -> [N, D]`` and ``encode_texts(list[str],
batch_size) -> [N, D]`` (both L2-normalised), so any backend (open_clip, SigLIP...) works alike.
Heavy libraries are imported inside the functions: importing this module stays cheap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from regionadapt.components import BENCHMARK_FIELDS, Context, EvalResult, Evaluator
from regionadapt.errors import ConfigError
from regionadapt.handles import EmbeddingModel
from regionadapt.schema import Strict

if TYPE_CHECKING:
    import numpy as np
    import torch

ISO2 = re.compile(r"^[A-Z]{2}$")
ISO3 = re.compile(r"^[a-z]{3}$")


class DataParams(Strict):
    """Which benchmark to read and how much of it."""

    dataset: str = Field(min_length=1, description="a registered data-set loader name")
    dataset_params: dict[str, Any] = Field(default_factory=dict)
    slice: Literal["countries"] | None = Field(
        default=None, description="'countries': keep only items whose country is in the pack"
    )
    batch_size: int = Field(default=64, ge=1, description="images per encode_images call")
    text_batch_size: int = Field(default=256, ge=1, description="texts per encode_texts call")
    limit: int | None = Field(default=None, ge=1, description="evaluate the first N items only")
    stratify_by: str | None = Field(
        default=None, description="extra grouping: a column or a key of the item's meta JSON"
    )
    bins: list[float] | None = Field(
        default=None,
        description="inclusive upper edges for a numeric stratify_by, e.g. [200, 684, 1997] "
        "gives 0-200, 201-684, 685-1997, 1998+",
    )
    min_group_n: int = Field(default=1, ge=1, description="smallest group counted in worst_group")


class Rows:
    """A benchmark's non-image columns as Python lists, plus the dataset for images."""

    def __init__(self, ds: Any, name: str) -> None:
        self.ds = ds
        self.name = name
        cols = set(ds.column_names)
        if "image" not in cols:
            raise ConfigError(
                f"data set {name!r} has no 'image' column (columns: {sorted(cols)}); "
                f"expected the benchmark schema: {', '.join(BENCHMARK_FIELDS)}"
            )
        n = len(ds)
        self.n = n
        self.cols: dict[str, list[Any]] = {}
        for col in BENCHMARK_FIELDS:
            if col == "image":
                continue
            if col in cols:
                self.cols[col] = list(ds[col])
            else:
                self.cols[col] = [_default(col)] * n
        self.metas = [_parse_meta(m, name, i) for i, m in enumerate(self.cols["meta"])]

    def __getitem__(self, col: str) -> list[Any]:
        return self.cols[col]

    def value(self, key: str, i: int) -> Any:
        """A column value or, failing that, a meta key (None when absent or empty)."""
        if key in self.cols and key != "meta":
            v = self.cols[key][i]
        else:
            v = self.metas[i].get(key)
        return None if v in ("", None) else v


def _default(col: str) -> Any:
    return {"options": [], "answer": -1, "meta": "{}"}.get(col, "")


def _parse_meta(raw: Any, name: str, i: int) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if raw in ("", None):
        return {}
    try:
        out = json.loads(raw)
    except (TypeError, ValueError):
        raise ConfigError(
            f"data set {name!r} item {i}: meta is not a JSON object: {raw!r:.80}"
        ) from None
    if not isinstance(out, dict):
        raise ConfigError(f"data set {name!r} item {i}: meta is not a JSON object: {raw!r:.80}")
    return out


def load_rows(p: DataParams, ctx: Context, split: str, who: str) -> Rows:
    """Load the named benchmark through its registered loader, applying ``limit``."""
    from regionadapt.components import build

    loader = build("datasets", p.dataset, p.dataset_params, where=f"{who} dataset_params")
    ds = loader.load(ctx, split)
    if p.limit is not None and len(ds) > p.limit:
        ds = ds.select(range(p.limit))
    return Rows(ds, p.dataset)


class EmbeddingEvaluator(Evaluator):
    """What the embedding evaluators share: the handle they need, loading the benchmark, the
    counters every result reports, and the empty result."""

    archs: ClassVar[tuple[str, ...]] = ("embedding",)
    needs: ClassVar[type | None] = EmbeddingModel

    def begin(self, ctx: Context, split: str) -> tuple[Any, Rows, dict[str, int], dict[str, float]]:
        """(params, rows, skipped counter, metrics) for one evaluation."""
        p = self.params
        return p, load_rows(p, ctx, split, self.name), {}, {}

    @staticmethod
    def empty(metrics: dict[str, float], skipped: dict[str, int]) -> EvalResult:
        """No item could be scored: n = 0, and the skip reasons say why."""
        return EvalResult(score=0.0, n=0, metrics=metrics, skipped=skipped)


def slice_indices(
    rows: Rows,
    idx: Sequence[int],
    p: DataParams,
    ctx: Context,
    skipped: dict[str, int],
    metrics: dict[str, float],
) -> list[int]:
    """Keep the items that belong to the pack's countries when ``slice = "countries"``."""
    if p.slice is None:
        return list(idx)
    wanted = set(ctx.pack.country_codes)
    keep, outside = [], 0
    for i in idx:
        c = rows["country"][i]
        if not c:
            bump(skipped, "slice: no country")
        elif c in wanted:
            keep.append(i)
        else:
            outside += 1
    metrics["n_outside_slice"] = float(outside)
    return keep


def bump(counter: dict[str, int], key: str, by: int = 1) -> None:
    counter[key] = counter.get(key, 0) + by


def open_image(value: Any) -> Any:
    """A PIL RGB image from encoded bytes, a datasets image dict, or a PIL image."""
    from regionadapt.data.images import to_pil

    return to_pil(value).convert("RGB")


def encode_images(
    model: Any, rows: Rows, idx: Sequence[int], batch_size: int, skipped: dict[str, int]
) -> tuple[torch.Tensor, list[int]]:
    """Embed the images of rows ``idx``; returns the embeddings and the rows that decoded.

    Images are decoded a chunk at a time (never the whole benchmark in memory) and handed to
    the model in batches; unreadable images are counted in ``skipped``, not raised.
    """
    import torch

    ds = rows.ds.select_columns(["image"])
    chunk = max(batch_size, 256)
    parts: list[torch.Tensor] = []
    ok: list[int] = []
    for start in range(0, len(idx), chunk):
        part = list(idx[start : start + chunk])
        raw = ds.select(part)["image"]
        imgs, good = [], []
        for i, value in zip(part, raw, strict=True):
            try:
                imgs.append(open_image(value))
                good.append(i)
            except Exception:  # a broken file must not end the evaluation
                bump(skipped, "unreadable image")
        if imgs:
            parts.append(model.encode_images(imgs, batch_size=batch_size).float().cpu())
            ok.extend(good)
    if not parts:
        return torch.zeros(0, 0), ok
    return torch.cat(parts), ok


def encode_unique_texts(
    model: Any, texts: Sequence[str], batch_size: int
) -> tuple[Any, dict[str, int]]:
    """Embed each distinct text once; returns the embeddings and text -> row index."""
    index: dict[str, int] = {}
    for t in texts:
        index.setdefault(t, len(index))
    emb = model.encode_texts(list(index), batch_size=batch_size).float().cpu()
    return emb, index


def fill_template(template: str, name: str) -> str:
    """``"a photo of a {}."`` and CLIP_benchmark's ``"a photo of a {c}."`` both work."""
    return template.format(name, c=name)


# -- groups ---------------------------------------------------------------------------------


def bin_labels(edges: Sequence[float]) -> list[str]:
    """[200, 684, 1997] -> ['0-200', '201-684', '685-1997', '1998+'] (integer edges)."""

    def fmt(x: float) -> str:
        return str(int(x)) if float(x).is_integer() else f"{x:g}"

    labels, lo = [], 0.0
    for e in edges:
        labels.append(f"{fmt(lo)}-{fmt(e)}")
        lo = e + 1 if float(e).is_integer() else e
    labels.append(f"{fmt(lo)}+")
    return labels


def group_keys(
    rows: Rows, idx: Sequence[int], key: str, bins: Sequence[float] | None, skipped: dict[str, int]
) -> list[str | None]:
    """The group of each item for one grouping; None (counted in ``skipped``) when unusable."""
    out: list[str | None] = []
    labels = bin_labels(bins) if bins else []
    for i in idx:
        v = rows.value(key, i)
        if v is None:
            bump(skipped, f"groups.{key}: missing")
            out.append(None)
            continue
        if key == "country" and not ISO2.match(str(v)):
            bump(skipped, f"groups.country: not an ISO 3166-1 alpha-2 code ({v!r})")
            out.append(None)
            continue
        if key == "lang" and not ISO3.match(str(v)):
            bump(skipped, f"groups.lang: unknown language code ({v!r}, expected ISO 639-3)")
            out.append(None)
            continue
        if bins:
            try:
                x = float(v)
            except (TypeError, ValueError):
                bump(skipped, f"groups.{key}: not a number")
                out.append(None)
                continue
            if not x >= 0:  # negative or NaN
                bump(skipped, f"groups.{key}: negative or NaN")
                out.append(None)
                continue
            b = sum(1 for e in bins if x > e)
            out.append(labels[b])
        else:
            out.append(str(v))
    return out


def group_scores(
    values: Sequence[float], keys: Sequence[str | None], order: Sequence[str] = ()
) -> dict[str, dict[str, float]]:
    """Mean of ``values`` per group key (None keys left out), with the item count; keys in
    ``order`` first (bins low to high), then the rest sorted."""
    sums: dict[str, list[float]] = {}
    for v, k in zip(values, keys, strict=True):
        if k is None:
            continue
        s = sums.setdefault(k, [0.0, 0])
        s[0] += float(v)
        s[1] += 1
    rank = {k: r for r, k in enumerate(order)}
    keys_sorted = sorted(sums, key=lambda k: (rank.get(k, len(rank)), k))
    return {k: {"score": sums[k][0] / sums[k][1], "n": sums[k][1]} for k in keys_sorted}


def add_groups(
    p: DataParams,
    rows: Rows,
    idx: Sequence[int],
    values: np.ndarray | Sequence[float],
    groups: dict[str, dict[str, dict[str, float]]],
    metrics: dict[str, float],
    skipped: dict[str, int],
) -> None:
    """Per-country and per-language scores (where the data has them), the ``stratify_by``
    grouping with its worst group and, for ordered bins, the gap top minus bottom."""
    for key in ("country", "lang"):
        if any(rows[key][i] for i in idx):
            groups[key] = group_scores(values, group_keys(rows, idx, key, None, skipped))
            put_worst(metrics, f"worst_{key}", groups[key], p.min_group_n)
    if p.stratify_by and p.stratify_by not in ("country", "lang"):
        keys = group_keys(rows, idx, p.stratify_by, p.bins, skipped)
        g = group_scores(values, keys, bin_labels(p.bins) if p.bins else ())
        name = f"{p.stratify_by}_bin" if p.bins else p.stratify_by
        groups[name] = g
        put_worst(metrics, "worst_group", g, p.min_group_n)
        if p.bins:
            labels = [b for b in bin_labels(p.bins) if b in g]
            if len(labels) >= 2:
                metrics["gap_top_minus_bottom"] = g[labels[-1]]["score"] - g[labels[0]]["score"]
    elif p.stratify_by in ("country", "lang"):
        put_worst(metrics, "worst_group", groups.get(p.stratify_by, {}), p.min_group_n)


def put_worst(
    metrics: dict[str, float], name: str, g: dict[str, dict[str, float]], min_n: int
) -> None:
    """The lowest group score among groups of at least ``min_n`` items (absent if none)."""
    scores = [v["score"] for v in g.values() if v["n"] >= min_n]
    if scores:
        metrics[name] = min(scores)

"""Image-text retrieval recall@k, both directions, per language (XM3600-style).

Each row is one caption of one image. Rows showing the same image (same ``meta.image_id``, or
failing that the same image bytes) share one gallery entry, encoded once. Per language, the
gallery is the images with at least one caption in that language; text-to-image recall@k asks
whether a caption's image is among its k nearest images, image-to-text whether any of the
image's captions is among its k nearest captions. This is CLIP_benchmark's definition (the
one in CLIP papers). Without language codes the whole set is one group.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import Field

from regionadapt.components import Context, EvalResult
from regionadapt_plugins.embedding_eval.common import (
    ISO3,
    DataParams,
    EmbeddingEvaluator,
    add_groups,
    bump,
    encode_images,
    encode_unique_texts,
    slice_indices,
)


class RetrievalParams(DataParams):
    ks: list[int] = Field(default_factory=lambda: [1, 5, 10], min_length=1)
    score_k: int = Field(default=1, ge=1, description="headline: mean of both directions at k")


class Retrieval(EmbeddingEvaluator):
    name = "retrieval"
    description = (
        "Image-text retrieval recall@k (text-to-image and image-to-text), per language; the "
        "score is the mean over languages of both directions' recall@score_k."
    )
    tasks = ("retrieval",)
    Params = RetrievalParams

    def evaluate(self, model: Any, ctx: Context, split: str) -> EvalResult:
        import numpy as np
        import torch

        p: RetrievalParams = self.params  # type: ignore[assignment]
        if p.score_k not in p.ks:
            p = p.model_copy(update={"ks": sorted({*p.ks, p.score_k})})
        _, rows, skipped, metrics = self.begin(ctx, split)
        has_lang = any(rows["lang"])
        idx = []
        for i in range(rows.n):
            lang = rows["lang"][i]
            if not rows["text"][i]:
                bump(skipped, "no text")
            elif has_lang and not lang:
                bump(skipped, "lang: missing")
            elif has_lang and not ISO3.match(lang):
                bump(skipped, f"lang: unknown language code ({lang!r}, expected ISO 639-3)")
            else:
                idx.append(i)
        idx = slice_indices(rows, idx, p, ctx, skipped, metrics)

        # One gallery entry per distinct image.
        keys = image_keys(rows, idx)
        first: dict[str, int] = {}
        for i, k in zip(idx, keys, strict=True):
            first.setdefault(k, i)
        key_of_row = {i: k for k, i in first.items()}
        img, ok = encode_images(model, rows, list(first.values()), p.batch_size, {})
        gallery = {key_of_row[i]: g for g, i in enumerate(ok)}
        texts_idx = [(i, k) for i, k in zip(idx, keys, strict=True) if k in gallery]
        if len(texts_idx) < len(idx):
            bump(skipped, "unreadable image (its captions)", len(idx) - len(texts_idx))
        if not texts_idx:
            return self.empty(metrics, skipped)
        rows_t = [i for i, _ in texts_idx]
        text_img = torch.tensor([gallery[k] for _, k in texts_idx])
        temb, tindex = encode_unique_texts(
            model, [rows["text"][i] for i in rows_t], p.text_batch_size
        )
        temb = temb[[tindex[rows["text"][i]] for i in rows_t]]
        langs = [rows["lang"][i] or "all" for i in rows_t]

        per_lang: dict[str, dict[str, float]] = {}
        text_to_image_hit = np.zeros(len(rows_t))
        for lang in sorted(set(langs)):
            sel = [j for j, lg in enumerate(langs) if lg == lang]
            r, hits = recall_at_k(temb[sel], img, text_img[sel], p.ks, p.score_k)
            text_to_image_hit[sel] = hits
            r["score"] = (
                r[f"recall@{p.score_k}_text_to_image"] + r[f"recall@{p.score_k}_image_to_text"]
            ) / 2
            r["n"] = len(sel)
            per_lang[lang] = r
        for k in p.ks:
            for d in ("text_to_image", "image_to_text"):
                name = f"recall@{k}_{d}"
                metrics[name] = float(np.mean([v[name] for v in per_lang.values()]))
        score = float(np.mean([v["score"] for v in per_lang.values()]))
        metrics["n_images"] = float(len(gallery))
        groups: dict[str, dict[str, dict[str, float]]] = {}
        # Country and stratify_by groups: text-to-image recall@score_k of each caption.
        add_groups(p, rows, rows_t, text_to_image_hit, groups, metrics, skipped)
        if has_lang:
            groups["lang"] = per_lang  # the full per-language table, not only text-to-image hits
            metrics["worst_lang"] = min(v["score"] for v in per_lang.values())
        ctx.log(f"{self.name} {p.dataset}/{split}: score {score:.3f} on {len(rows_t)} captions")
        return EvalResult(
            score=score, n=len(rows_t), metrics=metrics, groups=groups, skipped=skipped
        )


def image_keys(rows: Any, idx: list[int]) -> list[str]:
    """Identity of each row's image: ``meta.image_id`` or a hash of the encoded bytes."""
    out = []
    need_hash = [i for i in idx if not rows.metas[i].get("image_id")]
    hashes: dict[int, str] = {}
    if need_hash:
        col = rows.ds.select_columns(["image"])
        for start in range(0, len(need_hash), 512):
            part = need_hash[start : start + 512]
            for i, v in zip(part, col.select(part)["image"], strict=True):
                hashes[i] = "sha1:" + hashlib.sha1(_bytes(v)).hexdigest()
    for i in idx:
        image_id = rows.metas[i].get("image_id")
        out.append(f"id:{image_id}" if image_id else hashes[i])
    return out


def _bytes(v: Any) -> bytes:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    if isinstance(v, dict):
        return v.get("bytes") or str(v.get("path")).encode()
    return repr(v).encode()


def recall_at_k(
    texts: Any, images: Any, text_img: Any, ks: list[int], hit_k: int
) -> tuple[dict[str, float], Any]:
    """Recall@k both ways over one gallery; also each text's text-to-image hit at ``hit_k``.

    ``images`` may hold images no text here points to: they are left out of the gallery (the
    gallery is the images of these texts), as with one language's captions of XM3600.
    """
    import torch

    used = torch.unique(text_img)
    remap = torch.full((images.shape[0],), -1, dtype=torch.long)
    remap[used] = torch.arange(len(used))
    target = remap[text_img]
    scores = texts @ images[used].T  # [T, I]
    kmax = max(ks)
    top_i = scores.topk(min(kmax, scores.shape[1]), dim=1).indices
    top_t = scores.T.topk(min(kmax, scores.shape[0]), dim=1).indices  # [I, k] text ids
    image_to_text_pos = target[top_t] == torch.arange(len(used))[:, None]
    out: dict[str, float] = {}
    hits = None
    for k in ks:
        text_to_image = (top_i[:, :k] == target[:, None]).any(dim=1)
        image_to_text = image_to_text_pos[:, :k].any(dim=1)
        out[f"recall@{k}_text_to_image"] = float(text_to_image.float().mean())
        out[f"recall@{k}_image_to_text"] = float(image_to_text.float().mean())
        if k == hit_k:
            hits = text_to_image.float().numpy()
    return out, hits

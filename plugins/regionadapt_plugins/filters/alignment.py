"""Keep image-text pairs a scorer finds aligned (CLIP score by default, any scorer pluggable)."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

from pydantic import Field

from regionadapt.components import Context
from regionadapt.data.images import image_bytes, open_image
from regionadapt.data.stateful import StatefulFilter
from regionadapt.schema import Strict
from regionadapt_plugins.filters.scoring import load_scorer


class AlignmentFilter(StatefulFilter):
    name: ClassVar[str] = "alignment"
    description: ClassVar[str] = (
        "Scores each image-caption pair with a scorer (`clip`: cosine similarity from the "
        "registered open_clip backend; or `package.module:Class`) and keeps pairs at or above "
        "the threshold (per language if given). calibrate = 'quantile' instead keeps the best "
        "keep_fraction of each language, since raw scores are not comparable across languages."
    )

    class Params(Strict):
        scorer: str = "clip"
        scorer_params: dict[str, Any] = Field(default_factory=dict)
        threshold: float = 0.2
        # Per-language thresholds (ISO 639-3 of the sample's `lang`), overriding `threshold`.
        thresholds: dict[str, float] = Field(default_factory=dict)
        calibrate: Literal["none", "quantile"] = "none"
        keep_fraction: float = Field(default=0.8, gt=0.0, le=1.0)
        batch_size: int = Field(default=64, ge=1)

    def setup(self, ctx: Context) -> None:
        self._scorer = load_scorer(self.params.scorer, dict(self.params.scorer_params), ctx)

    def key_batch(self, samples: list[dict[str, Any]]) -> list[Any]:
        keys: list[Any] = [None] * len(samples)
        ok: list[int] = []
        images: list[bytes] = []
        for i, s in enumerate(samples):
            try:
                data = image_bytes(s)
                open_image(data)
            except Exception as exc:  # ImageMissing or any decoding error
                keys[i] = {"lang": s.get("lang") or "", "error": f"unscorable: {exc}"}
                continue
            ok.append(i)
            images.append(data)
        for start in range(0, len(ok), self.params.batch_size):
            idx = ok[start : start + self.params.batch_size]
            scores = self._scorer.score_batch(
                images[start : start + len(idx)], [samples[i].get("text") or "" for i in idx]
            )
            for i, score in zip(idx, scores, strict=True):
                keys[i] = {"lang": samples[i].get("lang") or "", "score": float(score)}
        return keys

    def decide_all(self, keys: list[Any], ids: list[str]) -> list[Any]:
        cut: dict[str, float] = {}
        if self.params.calibrate == "quantile":
            by_lang: dict[str, list[float]] = {}
            for k in keys:
                if k and "score" in k:
                    by_lang.setdefault(k["lang"], []).append(k["score"])
            for lang, scores in by_lang.items():
                scores.sort(reverse=True)
                n_keep = max(1, math.ceil(self.params.keep_fraction * len(scores)))
                cut[lang] = scores[n_keep - 1]
        out: list[Any] = []
        for k in keys:
            if k is None or "score" not in k:
                out.append((False, (k or {}).get("error", "unscorable: no key")))
                continue
            lang, score = k["lang"], k["score"]
            if self.params.calibrate == "quantile":
                t = cut[lang]
                label = f"{lang or '(no lang)'} quantile cut {t:.4f}"
            else:
                t = self.params.thresholds.get(lang, self.params.threshold)
                label = f"threshold {t}"
            out.append(
                True if score >= t else (False, f"low-alignment: score {score:.4f} < {label}")
            )
        return out

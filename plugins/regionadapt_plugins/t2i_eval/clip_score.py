"""CLIPScore of generated images, judged by any registered embedding model.

CLIPScore as torchmetrics defines it: ``100 * cos(image, text)`` per pair, the reported value
``max(mean, 0)``. torchmetrics accepts only a few hub CLIP names as the judge; here the judge is
an embedding checkpoint loaded through its registered backend (open_clip by default), so a
region's own CLIP, SigLIP or the demo world's judge all work. ``score`` = mean of the per-item
``max(100 cos, 0) / 100`` (in [0, 1], higher is better); ``raw`` = torchmetrics' CLIPScore.

``metric = "r-precision"`` scores instead whether the judge picks the prompt's own concept for
the picture among every concept of the prompt set (CLIP R-precision, R = 1, Park et al. 2021):
CLIPScore barely separates a right picture from a wrong one (cosines of any picture with any
caption sit close together), a classification does. CLIPScore is still reported in ``metrics``.

Prompts are fixed and so are the seeds (image ``i`` of split ``s`` is drawn from
``seed + SPLIT_OFFSET[s] + i``): a re-run draws the same images, validation and test draw
different ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from regionadapt.components import Context, EvalResult, Evaluator
from regionadapt.errors import ConfigError
from regionadapt.handles import EmbeddingModel, ImageGenerator
from regionadapt.schema import Strict

SPLIT_OFFSET = {"train": 0, "validation": 100_000, "test": 200_000}
DEFAULT_JUDGE = {"model": "ViT-B-32", "pretrained": "laion2b_s34b_b79k"}
# Judges stay loaded for the whole process: a stage scores 2 + len(grid) models per split.
_JUDGES: dict[str, Any] = {}


class ClipScoreParams(Strict):
    metric: Literal["clip-score", "r-precision"] = Field(
        default="clip-score",
        description="'clip-score': max(100 cos, 0) / 100 per prompt; 'r-precision': 1 where the "
        "judge ranks the prompt's concept first among every concept of the prompt set (its "
        "prompts' text embeddings averaged), else 0",
    )
    prompts: Literal["lexicon", "global", "dataset"] = Field(
        description="'lexicon': cultural prompts from the region pack's lexicon; 'global': the "
        "shipped everyday dense prompts; 'dataset': the 'text' column of a data-set loader."
    )
    dataset: str | None = Field(default=None, description="loader name (prompts='dataset')")
    dataset_params: dict[str, Any] = Field(default_factory=dict)
    languages: Literal["all", "english"] = Field(
        default="all", description="lexicon: every language an entry has a name in, or English"
    )
    describe: bool = Field(default=True, description="lexicon: add the entry's description")
    categories: list[str] | None = Field(default=None, description="lexicon: only these")
    limit: int | None = Field(default=None, ge=1, description="score the first N prompts only")
    judge_backend: str = Field(default="open_clip", description="a registered embedding backend")
    judge: str | dict[str, Any] = Field(
        default_factory=lambda: dict(DEFAULT_JUDGE),
        description="the judge: a checkpoint folder / model id for the judge backend's load, "
        "or a table of that backend's model params (e.g. {model, pretrained})",
    )
    seed: int = Field(default=0, description="image i is drawn from seed + split offset + i")
    batch_size: int = Field(default=8, ge=1, description="prompts per generate call")
    judge_batch_size: int = Field(default=64, ge=1)
    num_inference_steps: int | None = Field(default=None, ge=1, description="None: the model's")
    guidance_scale: float | None = Field(default=None, ge=0, description="None: the model's")
    save_images: bool = Field(
        default=True, description="keep the images in <run>/t2i-images (contact sheets, rating)"
    )


def load_judge(
    backend_name: str,
    judge: str | dict[str, Any],
    ctx: Context,
    protocol: type = EmbeddingModel,
    who: str = "clip-score",
) -> Any:
    """The judge handle (cached per process), checked to provide ``protocol``: an embedding
    model for clip-score, a chat model for vqa-score. ``judge`` is a folder / model id, or a
    ModelParams table the backend prepares into a temporary folder."""
    key = json.dumps([backend_name, judge, protocol.__name__], sort_keys=True)
    if key in _JUDGES:
        return _JUDGES[key]
    import tempfile

    from regionadapt.components import build
    from regionadapt.schema import validate

    kind = "a chat model" if protocol.__name__ == "ChatModel" else "an embedding model"
    backend = build("backends", backend_name, where=f"{who} judge_backend")
    if backend.handle is not protocol and not issubclass(backend.handle, protocol):
        raise ConfigError(
            f"{who}: judge_backend {backend_name!r} loads {backend.handle.__name__}, not "
            f"{kind} ({protocol.__name__})"
        )
    if isinstance(judge, str):
        handle = backend.load(judge)
    else:
        params = validate(backend.ModelParams, judge, f"{who} judge", ConfigError)
        with tempfile.TemporaryDirectory(prefix="regionadapt-judge-") as tmp:
            backend.prepare_base(ctx, params, Path(tmp))
            handle = backend.load(tmp)
    if not isinstance(handle, protocol):
        raise ConfigError(f"{who}: the judge from {backend_name!r} is not {kind}")
    _JUDGES[key] = handle
    return handle


def clip_scores(judge: Any, images: list[Any], texts: list[str], batch: int = 64) -> Any:
    """Per-pair ``100 * cos(image, text)`` (a float tensor [N])."""
    img = judge.encode_images(images, batch_size=batch).float()
    txt = judge.encode_texts(texts, batch_size=batch).float()
    img = img / img.norm(dim=-1, keepdim=True)  # the handle normalises; be robust anyway
    txt = txt / txt.norm(dim=-1, keepdim=True)
    return 100 * (img * txt).sum(dim=-1)


def concept_of(item: dict[str, Any]) -> str:
    return item.get("concept") or item["text"]


def r_precision_hits(
    judge: Any,
    images: list[Any],
    truth: list[str],
    classes: dict[str, list[str]],
    batch: int = 64,
) -> list[float]:
    """1.0 where the judge's nearest class for the image is its own (``truth[i]``), else 0.0.

    Each class is the mean of its captions' normalised text embeddings, normalised again (CLIP's
    prompt ensembling), so a concept named in several languages is one class, not several."""
    import torch

    missing = sorted(set(truth) - set(classes))
    if missing:
        raise ConfigError(f"r-precision: prompts of concepts with no caption: {missing[:5]}")
    names = list(classes)
    texts = [t for n in names for t in classes[n]]
    owner = torch.tensor([k for k, n in enumerate(names) for _ in classes[n]])
    txt = judge.encode_texts(texts, batch_size=batch).float()
    txt = txt / txt.norm(dim=-1, keepdim=True)
    centroids = torch.zeros(len(names), txt.shape[1]).index_add_(0, owner, txt)
    centroids = centroids / centroids.norm(dim=-1, keepdim=True)
    img = judge.encode_images(images, batch_size=batch).float()
    img = img / img.norm(dim=-1, keepdim=True)
    best = (img @ centroids.T).argmax(dim=1).tolist()
    return [1.0 if names[b] == t else 0.0 for b, t in zip(best, truth, strict=True)]


class ClipScore(Evaluator):
    name = "clip-score"
    description = (
        "CLIPScore (torchmetrics' formula) of images generated from the pack's lexicon "
        "prompts, a shipped list of everyday dense prompts or a data set, judged by any "
        "registered embedding model; per category, language and country."
    )
    Params: ClassVar[type[Strict]] = ClipScoreParams
    archs: ClassVar[tuple[str, ...]] = ("t2i",)
    needs: ClassVar[type | None] = ImageGenerator
    tasks: ClassVar[tuple[str, ...]] = ("text-to-image",)

    @classmethod
    def pack_params(cls, bench: Any, pack: Any) -> dict[str, Any] | None:
        # A regional text-to-image benchmark is the pack's own lexicon; a global one (DPG-Bench
        # needs its VQA judge and a local copy) is stood in for by the shipped dense prompts.
        return {"prompts": "lexicon" if bench.role == "regional" else "global"}

    @classmethod
    def pack_note(cls, bench: Any, pack: Any) -> str | None:
        if bench.role == "regional":
            return "prompts generated from the pack's lexicon (nothing to download)"
        return (
            "stood in for by the shipped everyday dense prompts, DPG-Bench style, judged by "
            "CLIPScore (the real DPG-Bench needs its VQA judge and a local copy)"
        )

    def prompts(self, ctx: Context, split: str) -> list[dict[str, Any]]:
        from regionadapt_plugins.t2i_eval import prompts as P

        p: ClipScoreParams = self.params  # type: ignore[assignment]
        if p.prompts == "lexicon":
            items = P.lexicon_prompts(ctx.pack, p.languages, p.describe, p.categories)
        elif p.prompts == "global":
            items = P.global_prompts()
        else:
            if not p.dataset:
                raise ConfigError("clip-score: prompts='dataset' needs `dataset` (a loader name)")
            from regionadapt.components import build

            loader = build("datasets", p.dataset, p.dataset_params, where="clip-score dataset")
            items = P.dataset_prompts(loader.load(ctx, split), p.dataset)
        items = items[: p.limit] if p.limit else items
        if not items:
            raise ConfigError("clip-score: the prompt list is empty")
        return items

    def evaluate(self, model: Any, ctx: Context, split: str) -> EvalResult:
        p = self.params  # ClipScoreParams or a subclass's params with the same generation keys
        items = self.prompts(ctx, split)
        texts = [it["text"] for it in items]
        seed = p.seed + SPLIT_OFFSET.get(split, 300_000)
        images = model.generate(
            texts, seed, batch_size=p.batch_size,
            num_inference_steps=p.num_inference_steps, guidance_scale=p.guidance_scale,
        )  # fmt: skip
        item_scores, extra = self.score_images(ctx, images, items)
        shown = []
        if p.save_images and ctx.run is not None:
            from regionadapt_plugins.t2i_eval.images import save_generated

            label = ctx.model or getattr(model, "name", "") or "model"
            folder = save_generated(
                ctx.run.root, split, self.prompt_set(), label, items, images, item_scores
            )
            sheet = folder.parent.with_name(f"{self.prompt_set()}-contact.png")
            if sheet.is_file():  # the report shows it (every model so far: one column each)
                shown.append({
                    "path": sheet.relative_to(ctx.run.root).as_posix(),
                    "title": f"contact sheet, {split} split: one row per prompt, one column "
                    "per model (base, merges by b, tuned)",
                })  # fmt: skip
        return EvalResult(
            score=sum(item_scores) / len(item_scores),
            n=len(items),
            groups=_groups(items, item_scores),
            items=item_scores,
            images=shown,
            **extra,
        )

    def score_images(
        self, ctx: Context, images: list[Any], items: list[dict[str, Any]]
    ) -> tuple[list[float], dict[str, Any]]:
        """Per-item scores in [0, 1] and the EvalResult's metric fields."""
        judge = self.judge_handle(ctx)
        texts = [it["text"] for it in items]
        per = clip_scores(judge, images, texts, self.params.judge_batch_size).tolist()
        raw = max(sum(per) / len(per), 0.0)  # torchmetrics: max(mean(100 cos), 0)
        metrics = {"clip_score": raw, "n_negative": float(sum(s < 0 for s in per))}
        if getattr(self.params, "metric", "clip-score") == "r-precision":
            classes = self.concept_captions(ctx, items)
            hits = r_precision_hits(judge, images, [concept_of(it) for it in items], classes,
                                    self.params.judge_batch_size)  # fmt: skip
            acc = sum(hits) / len(hits)
            return hits, {"metrics": {"r_precision": acc, "concepts": float(len(classes)),
                                      **metrics}}  # fmt: skip
        return [max(s, 0.0) / 100.0 for s in per], {
            "metrics": metrics,
            "raw": raw,
            "raw_name": "CLIPScore",
            "normalization": "mean over prompts of max(100 * cos(image, text), 0) / 100",
        }

    def concept_captions(self, ctx: Context, items: list[dict[str, Any]]) -> dict[str, list[str]]:
        """R-precision's classes: concept -> the captions standing for it. Here the prompt set's
        own concepts and texts (a prompt without a concept is a class of its own)."""
        out: dict[str, list[str]] = {}
        for it in items:
            out.setdefault(concept_of(it), []).append(it["text"])
        if len(out) < 2:
            raise ConfigError(
                f"clip-score: r-precision needs prompts of at least 2 concepts, got {sorted(out)}"
            )
        return out

    def judge_handle(self, ctx: Context) -> Any:
        p: ClipScoreParams = self.params  # type: ignore[assignment]
        return load_judge(p.judge_backend, p.judge, ctx)

    def prompt_set(self) -> str:
        """The folder name this evaluator's images are kept under in the run."""
        p: ClipScoreParams = self.params  # type: ignore[assignment]
        return (p.dataset or "dataset") if p.prompts == "dataset" else p.prompts


def _groups(items: list[dict[str, Any]], scores: list[float]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, dict[str, float]]] = {}
    for key in ("category", "lang", "country"):
        acc: dict[str, list[float]] = {}
        for it, s in zip(items, scores, strict=True):
            if it.get(key):
                acc.setdefault(it[key], []).append(s)
        if acc:
            out[key] = {g: {"score": sum(v) / len(v), "n": len(v)} for g, v in sorted(acc.items())}
    return out

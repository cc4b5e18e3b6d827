"""The demo world's text-to-image scoring: its prompts, its judge and the ``demo-clip-score``
evaluator.

Its score is the judge's R-precision by default: is the picture classified as the prompted
concept among every concept of the world. The demo's pictures are small and coarse, and their
CLIPScore (still reported) moves little between a right and a wrong drawing.

A CLIPScore judge must know every concept, the regional ones included, or it cannot tell a
right regional picture from a wrong one. The demo judge is a small open_clip model trained
contrastively on the *whole* world (global and regional concepts, captions in the pack's
languages), cached per (pack, world seed), and kept apart from the model being adapted: the
text-to-image base never sees it and it never sees generated images.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from regionadapt.components import Context
from regionadapt.progress import log
from regionadapt.rundir import hash_json
from regionadapt.schema import Strict
from regionadapt_plugins.t2i_eval.clip_score import ClipScore

JUDGE_VERSION = 1
JUDGE_TRAIN = {"method": "full", "epochs": 40, "max_steps": 400, "batch_size": 128, "lr": 2e-3,
               "warmup_ratio": 0.05, "weight_decay": 0.1}  # fmt: skip
JUDGE_PER_CONCEPT = 60
SPLIT_SEEDS = {"train": 0, "validation": 1, "test": 2}


def _world(pack: Any, seed: int, regional_concepts: int):
    from regionadapt_plugins.demo_world.world import DemoWorld

    return DemoWorld(pack=pack, seed=seed, regional_concepts=regional_concepts)


def _caption(concept: Any, prng: random.Random) -> tuple[str, str]:
    """(text, lang) the way the world's pool captions a concept."""
    if concept.kind == "global":
        return f"a photo of a {concept.forms['eng'][0]}", "eng"
    lang = prng.choice(sorted(concept.forms))
    form = prng.choice(concept.forms[lang])
    return (f"a photo of {form}" if lang == "eng" and prng.random() < 0.5 else form), lang


def concept_captions(world: Any) -> dict[str, list[str]]:
    """Every caption ``_caption`` can give each concept the judge knows (global and regional):
    the classes of the demo's R-precision, so a picture counts as right only where the judge
    tells it apart from every other thing of the world, in any of its names."""
    out = {c.id: [f"a photo of a {c.forms['eng'][0]}"] for c in world.global_}
    for c in world.regional:
        texts = []
        for lang in sorted(c.forms):
            for form in c.forms[lang]:
                texts += [form, f"a photo of {form}"] if lang == "eng" else [form]
        out[c.id] = texts
    return out


def judge_training_rows(world: Any, per_concept: int) -> list[dict]:
    import numpy as np

    from regionadapt_plugins.demo_world.world import _seed

    rng = np.random.default_rng(_seed("judge", world.pack.id, world.seed))
    prng = random.Random(_seed("judge-text", world.pack.id, world.seed))
    rows = []
    for c in world.global_ + world.regional:
        for _ in range(per_concept):
            rows.append({"image": world.picture(c, rng), "text": _caption(c, prng)[0]})
    return rows


def demo_judge(pack: Any, seed: int = 0, regional_concepts: int = 24) -> Path:
    """The cached whole-world judge (open_clip checkpoint folder); trained if absent."""
    from regionadapt_plugins.demo_world.base_model import (
        DEMO_VERSION,
        EMBEDDING_MODEL_CFG,
        cache_root,
    )

    key = hash_json([DEMO_VERSION, JUDGE_VERSION, EMBEDDING_MODEL_CFG, JUDGE_TRAIN,
                     JUDGE_PER_CONCEPT, pack.id, sorted(e.id for e in pack.lexicon),
                     regional_concepts, seed])  # fmt: skip
    final = cache_root() / "demo-world" / f"t2i-judge-{pack.id}-{key}"
    if (final / "open_clip_model.safetensors").is_file():
        return final
    import datasets

    from regionadapt_plugins.openclip_backend import (
        TuneParams,
        create_model,
        save_checkpoint,
        train_contrastive,
    )

    log("demo world: training the t2i judge on the whole world (once per pack, cached)")
    world = _world(pack, seed, regional_concepts)
    model = create_model(EMBEDDING_MODEL_CFG)
    rows = judge_training_rows(world, JUDGE_PER_CONCEPT)
    train_contrastive(model, datasets.Dataset.from_list(rows),
                      TuneParams(**{**JUDGE_TRAIN, "seed": seed}), log=log)  # fmt: skip
    tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    save_checkpoint(model, tmp)
    try:
        os.replace(tmp, final)
    except OSError:  # another process finished first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"demo world: t2i judge cached at {final}")
    return final


def demo_prompts(world: Any, part: str, split: str, per_concept: int) -> list[dict[str, Any]]:
    """Prompts for the regional or global concepts, captioned as the pool captions them."""
    from regionadapt_plugins.demo_world.world import _seed

    prng = random.Random(_seed("t2i-prompts", world.pack.id, world.seed, part, SPLIT_SEEDS[split]))
    concepts = world.regional if part == "regional" else world.global_
    out = []
    for c in concepts:
        for k in range(per_concept):
            text, lang = _caption(c, prng)
            out.append({
                "id": f"demo-t2i-{part}-{split}-{c.id}-{k}", "text": text, "lang": lang,
                "country": prng.choice(c.countries) if c.countries else "",
                "category": c.category or "everyday", "concept": c.id,
            })  # fmt: skip
    return out


class DemoClipScoreParams(Strict):
    metric: Literal["r-precision", "clip-score"] = Field(
        default="r-precision",
        description="'r-precision': 1 where the judge classifies the picture as the prompted "
        "concept among every concept of the world, else 0; 'clip-score': max(100 cos, 0) / 100",
    )
    part: Literal["regional", "global"] = Field(description="which concepts are prompted")
    per_concept: int = Field(default=4, ge=1, description="prompts per concept")
    regional_concepts: int = Field(default=24, ge=4, description="as the demo-world collector")
    world_seed: int | None = Field(default=None, description="default: the project's seed")
    seed: int = Field(default=0, description="image i is drawn from seed + split offset + i")
    batch_size: int = Field(default=32, ge=1)
    judge_batch_size: int = Field(default=128, ge=1)
    num_inference_steps: int | None = Field(default=None, ge=1)
    guidance_scale: float | None = Field(default=None, ge=0)
    save_images: bool = Field(default=True)
    judge: str | None = Field(
        default=None,
        description="an open_clip checkpoint folder to judge with instead of the demo's "
        "whole-world judge (tests use a tiny one)",
    )


class DemoClipScore(ClipScore):
    name = "demo-clip-score"
    description = (
        "DEMO WORLD: CLIPScore of generated pictures of the world's regional or global "
        "concepts, judged by a small open_clip model trained on the whole world."
    )
    Params: ClassVar[type[Strict]] = DemoClipScoreParams
    tasks: ClassVar[tuple[str, ...]] = ()  # never chosen for a real pack benchmark

    @classmethod
    def pack_params(cls, bench: Any, pack: Any) -> dict[str, Any] | None:
        return None

    def _seed(self, ctx: Context) -> int:
        p: DemoClipScoreParams = self.params  # type: ignore[assignment]
        return ctx.seed if p.world_seed is None else p.world_seed

    def prompts(self, ctx: Context, split: str) -> list[dict[str, Any]]:
        p: DemoClipScoreParams = self.params  # type: ignore[assignment]
        world = _world(ctx.pack, self._seed(ctx), p.regional_concepts)
        return demo_prompts(world, p.part, split, p.per_concept)

    def judge_handle(self, ctx: Context) -> Any:
        from regionadapt_plugins.t2i_eval.clip_score import load_judge

        p: DemoClipScoreParams = self.params  # type: ignore[assignment]
        folder = p.judge or demo_judge(ctx.pack, self._seed(ctx), p.regional_concepts)
        return load_judge("open_clip", str(folder), ctx)

    def concept_captions(self, ctx: Context, items: list[dict[str, Any]]) -> dict[str, list[str]]:
        p: DemoClipScoreParams = self.params  # type: ignore[assignment]
        return concept_captions(_world(ctx.pack, self._seed(ctx), p.regional_concepts))

    def prompt_set(self) -> str:
        return f"demo-{self.params.part}"  # type: ignore[attr-defined]

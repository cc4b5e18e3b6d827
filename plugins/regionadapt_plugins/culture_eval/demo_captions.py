"""The demo world's caption benchmark: its regional test pictures, each with a reference
caption that names the pictured lexicon entry (in one of its languages), so the demo chat model
can report keyword accuracy for base, tuned and merged models.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from pydantic import Field

from regionadapt.components import Context, DatasetLoader
from regionadapt.schema import Strict

TEMPLATES = {"eng": "a photo of {}"}  # other languages: the entry's name alone


class DemoCaptionParams(Strict):
    regional_concepts: int = Field(default=24, ge=4, description="as in the demo-world loader")
    seed: int | None = Field(default=None, description="world seed (default: the project's)")
    per_concept: int = Field(default=4, ge=1, description="pictures per regional concept")


class DemoWorldCaptions(DatasetLoader):
    name = "demo-world-captions"
    description = (
        "DEMO WORLD (generated pictures, not real data): regional pictures with reference "
        "captions naming their lexicon entry, for keyword accuracy."
    )
    Params: ClassVar[type[Strict]] = DemoCaptionParams

    def load(self, ctx: Context, split: str) -> Any:
        import datasets
        import numpy as np

        from regionadapt_plugins.benchmarks.base import features
        from regionadapt_plugins.demo_world.world import SPLIT_SEEDS, DemoWorld, _seed

        p: DemoCaptionParams = self.params  # type: ignore[assignment]
        seed = ctx.seed if p.seed is None else p.seed
        world = DemoWorld(pack=ctx.pack, seed=seed, regional_concepts=p.regional_concepts)
        if split not in SPLIT_SEEDS:
            from regionadapt.errors import ConfigError

            raise ConfigError(
                f"demo-world-captions: no split {split!r}; splits: {', '.join(SPLIT_SEEDS)}"
            )
        # Own random streams: never the pictures of the VQA benchmark or the training pool.
        rng = np.random.default_rng(_seed("bench-captions", ctx.pack.id, seed, SPLIT_SEEDS[split]))
        prng = random.Random(_seed("bench-captions-text", ctx.pack.id, seed, SPLIT_SEEDS[split]))
        rows = []
        for c in world.regional:
            for _ in range(p.per_concept):
                lang = prng.choice(sorted(c.forms))
                form = prng.choice(c.forms[lang])
                rows.append({
                    "id": f"demo-{ctx.pack.id}-{split}-c{len(rows):05d}",
                    "image": world.picture(c, rng), "text": "", "options": [], "answer": -1,
                    "label": c.id, "reference": TEMPLATES.get(lang, "{}").format(form),
                    "country": prng.choice(c.countries), "lang": lang,
                    "meta": f'{{"concept": "{c.id}", "category": "{c.category}"}}',
                })  # fmt: skip
        return datasets.Dataset.from_list(rows, features=features())

"""The demo world: the embedded default that runs with no network and no model hub.

Procedurally drawn pictures of global concepts, of the region pack's own lexicon entries (so any
pack works) and of distractors from elsewhere, with captions in the pack's languages; small base
models pretrained on the global part. Everything it prints is measured on this generated world
and is labelled as such: it shows the method working, not a claim about real models.

Provides the ``demo-world`` collector (the data pool) and the ``demo-world`` data-set loader
(the regional and global benchmarks, per split).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from regionadapt.components import OPTIONAL_BENCHMARK_FIELDS, Collector, Context, DatasetLoader
from regionadapt.hookspecs import hookimpl
from regionadapt.schema import Strict

WORLD_LABEL = "DEMO WORLD (generated pictures, not real data)"
SOURCE_NAME = "demo-world"
# Shown with every result measured on a demo-world base model.
RESULT_LABEL = (
    "DEMO WORLD: generated pictures and a small model; it shows the method, not real-model results."
)


class WorldParams(Strict):
    regional_concepts: int = Field(
        default=24, ge=4, description="lexicon entries drawn as regional concepts"
    )
    seed: int | None = Field(default=None, description="world seed (default: the project's seed)")


class PoolParams(WorldParams):
    per_regional: int = Field(default=60, ge=1, description="samples per regional concept")
    per_global: int = Field(default=20, ge=0, description="samples per global concept")
    per_distractor: int = Field(default=15, ge=0, description="samples per distractor concept")
    corrupt: int = Field(default=5, ge=0, description="deliberately truncated images")
    global_in_region: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="share of everyday photos taken in the pack's countries",
    )


class BenchParams(WorldParams):
    part: Literal["regional", "global"] = Field(description="which benchmark of the world")
    per_concept: int = Field(default=8, ge=1, description="test items per concept")


def _world(params: WorldParams, ctx: Context):
    from regionadapt_plugins.demo_world.world import DemoWorld

    seed = ctx.seed if params.seed is None else params.seed
    return DemoWorld(pack=ctx.pack, seed=seed, regional_concepts=params.regional_concepts)


def _check_pack(pack) -> None:
    """The demo world draws regional concepts from the pack's lexicon: it needs a few."""
    from regionadapt.errors import ConfigError
    from regionadapt_plugins.demo_world.world import MIN_REGIONAL

    if len(pack.lexicon) < MIN_REGIONAL:
        raise ConfigError(
            f"region pack {pack.id!r} has {len(pack.lexicon)} lexicon entries; the demo world "
            f"needs at least {MIN_REGIONAL} to draw regional concepts (add [[lexicon]] entries)"
        )


class DemoWorldCollector(Collector):
    name = "demo-world"
    description = f"{WORLD_LABEL}: the generated data pool (regional, global, distractors)."
    Params: ClassVar[type[Strict]] = PoolParams

    def check_pack(self, pack) -> None:
        _check_pack(pack)

    def collect(self, ctx: Context):
        p: PoolParams = self.params  # type: ignore[assignment]
        yield from _world(p, ctx).pool(
            p.per_regional, p.per_global, p.per_distractor, p.corrupt, p.global_in_region
        )


class DemoWorldBenchmark(DatasetLoader):
    name = "demo-world"
    description = (
        f"{WORLD_LABEL}: 'regional' = multiple choice among the names of the pack's lexicon "
        "entries in their languages; 'global' = zero-shot classification of everyday things."
    )
    Params: ClassVar[type[Strict]] = BenchParams

    def load(self, ctx: Context, split: str) -> Any:
        import datasets

        from regionadapt_plugins.benchmarks.base import features

        p: BenchParams = self.params  # type: ignore[assignment]
        world = _world(p, ctx)
        if p.part == "regional":
            rows = world.regional_benchmark(split, per_concept=p.per_concept)
        else:
            rows = world.global_benchmark(split, per_concept=p.per_concept)
        # The schema gained optional columns (``reference``) after the world was written.
        rows = [{**OPTIONAL_BENCHMARK_FIELDS, **r} for r in rows]
        return datasets.Dataset.from_list(rows, features=features())


@hookimpl
def resolve_model_source(source: str, arch: str):
    if source != SOURCE_NAME:
        return None
    from regionadapt_plugins.demo_world.sources import SOURCES

    make = SOURCES.get(arch)
    return make() if make else None


@hookimpl
def model_sources(arch: str) -> list[str]:
    from regionadapt_plugins.demo_world.sources import SOURCES

    return [SOURCE_NAME] if arch in SOURCES else []


@hookimpl
def register_collectors(register):
    register(DemoWorldCollector)


@hookimpl
def register_datasets(register):
    register(DemoWorldBenchmark)


@hookimpl
def register_evaluators(register):
    from regionadapt_plugins.demo_world.t2i_judge import DemoClipScore

    register(DemoClipScore)

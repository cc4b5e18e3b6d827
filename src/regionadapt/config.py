"""``regionadapt.toml``: the project file. Schema, loading and up-front validation.

Static keys are checked by pydantic on load; the tables that belong to plugins (a backend's
``model`` and ``tune``, each filter's, collector's, evaluator's and merge method's ``params``)
are checked against that plugin's own ``Params`` model by :func:`validate_for_arch`, before any
stage runs. Every error names the file and the key path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from regionadapt.errors import ConfigError
from regionadapt.packs import ARCHS
from regionadapt.schema import Strict, read_toml, validate

CONFIG_NAME = "regionadapt.toml"


class ComponentRef(Strict):
    """A registered component by name, with its parameters."""

    params: dict[str, Any] = Field(default_factory=dict)


class SourceRef(ComponentRef):
    collector: str
    label: str = ""


class FilterRef(ComponentRef):
    filter: str


class CollectConfig(Strict):
    sources: list[SourceRef] = Field(min_length=1)


class FilterConfig(Strict):
    workers: int = Field(default=1, ge=1)
    executor: Literal["local", "ray"] = "local"
    steps: list[FilterRef] = Field(default_factory=list)


class ModelConfig(Strict):
    backend: str
    # Passed to the backend's ModelParams (model id or path, pretrained tag, precision...).
    params: dict[str, Any] = Field(default_factory=dict)
    # "params": the model is what `params` names. Any other name is a model source a plugin
    # provides (the demo world's "demo-world": its cached base model, built on first use).
    source: str = Field(default="params", min_length=1)


class MergeConfig(Strict):
    method: str = "linear"
    grid: list[float] = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    # Keep only candidates whose global score is at least this share of the base model's.
    min_global_retention: float = Field(default=0.0, ge=0.0, le=1.0)
    dtype: Literal["float32", "bfloat16", "float16"] | None = None
    keep_candidates: bool = False

    @field_validator("grid")
    @classmethod
    def _grid_in_range(cls, v):
        bad = [b for b in v if not 0.0 <= b <= 1.0]
        if bad:
            raise ValueError(f"merge ratios must be in [0, 1]; got {bad}")
        if len(set(v)) != len(v):
            raise ValueError("merge ratios must be distinct")
        return sorted(v)


class BenchmarkRef(ComponentRef):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    # "report": scored and shown for every model, but outside GRP (a value-alignment or caption
    # metric the user wants to watch without letting it choose b).
    role: Literal["regional", "global", "report"]
    evaluator: str
    weight: float = Field(default=1.0, gt=0)


class EvaluateConfig(Strict):
    validation_split: str = "validation"
    test_split: str = "test"
    benchmarks: list[BenchmarkRef] = Field(min_length=2)

    @field_validator("benchmarks")
    @classmethod
    def _both_roles(cls, v):
        roles = {b.role for b in v}
        if not {"regional", "global"} <= roles:
            raise ValueError(
                "expected at least one benchmark with role 'regional' and one with role 'global'"
            )
        names = [b.name for b in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate benchmark names {dup}")
        return v


class ArchConfig(Strict):
    model: ModelConfig
    tune: dict[str, Any] = Field(default_factory=dict)  # the backend's TuneParams
    merge: MergeConfig
    evaluate: EvaluateConfig


class ProjectConfig(Strict):
    region: str
    run_root: str = "runs"
    seed: int = 0
    # Any plugin failure (import, registration, observer) is an error: for CI.
    strict_plugins: bool = False
    collect: CollectConfig
    filter: FilterConfig = FilterConfig()
    embedding: ArchConfig | None = None
    t2i: ArchConfig | None = None
    lvlm: ArchConfig | None = None

    def configured(self) -> list[str]:
        return [a for a in ARCHS if getattr(self, a) is not None]

    def only_arch(self, source: str = CONFIG_NAME) -> str:
        """The architecture to run when none is named: the only one configured."""
        present = self.configured()
        if len(present) == 1:
            return present[0]
        if not present:
            raise ConfigError(f"{source}: no architecture table ([embedding], [t2i] or [lvlm])")
        raise ConfigError(
            f"{source} configures {', '.join(present)}: pass --arch " + " or --arch ".join(present)
        )

    def arch(self, arch: str, source: str = CONFIG_NAME) -> ArchConfig:
        if arch not in ARCHS:
            raise ConfigError(f"unknown architecture {arch!r}; valid choices: {', '.join(ARCHS)}")
        cfg = getattr(self, arch)
        if cfg is None:
            present = [a for a in ARCHS if getattr(self, a) is not None]
            raise ConfigError(
                f"{source}: no [{arch}] table; this project configures: {', '.join(present) or 'none'}"
            )
        return cfg


def load_config(path: str | Path) -> ProjectConfig:
    path = Path(path)
    if not path.exists():
        raise ConfigError(
            f"{path}: not found. Run `regionadapt init --region sea` to write one, or pass --config."
        )
    config = validate(ProjectConfig, read_toml(path, ConfigError), str(path), ConfigError)
    if config.strict_plugins:
        from regionadapt.plugins import set_strict

        set_strict(True)  # raises now for a plugin that already failed
    return config

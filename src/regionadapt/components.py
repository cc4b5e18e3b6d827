"""Base classes for the components plugins register: collectors, filters, backends, evaluators.

(Merge methods live in :mod:`regionadapt.merge`.) Each component is a class with a unique
``name``, a one-paragraph ``description`` and a pydantic ``Params`` model: its typed parameters
with defaults, validated when the component is built from a config, with errors naming the key.

Nothing here imports torch: heavy libraries are imported inside the methods that use them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from regionadapt.errors import ConfigError, PluginError
from regionadapt.schema import Strict, validate

if TYPE_CHECKING:
    from regionadapt.packs import RegionPack
    from regionadapt.rundir import RunDir


class NoParams(Strict):
    """For components without parameters."""


@dataclass
class Context:
    """What every component may read while a stage runs."""

    pack: RegionPack
    seed: int = 0
    run: RunDir | None = None
    arch: str | None = None
    cache_dir: Path | None = None
    # Free-form, stage-specific settings (e.g. the resolved [embedding.tune] table).
    settings: dict[str, Any] = field(default_factory=dict)

    def log(self, message: str) -> None:
        from regionadapt.progress import log

        log(message)


class Component:
    """Shared machinery: name, description, typed params, optional-dependency check."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Params: ClassVar[type[Strict]] = NoParams
    # Importable module names this component needs beyond the core dependencies, with the
    # pip requirement that provides each, e.g. {"py3langid": "py3langid"}.
    requires: ClassVar[Mapping[str, str]] = {}

    def __init__(self, params: Mapping[str, Any] | None = None, *, where: str = "") -> None:
        missing = [
            pip for mod, pip in self.requires.items() if importlib.util.find_spec(mod) is None
        ]
        if missing:
            raise PluginError(
                f"{type(self).__name__} {self.name!r} needs {', '.join(missing)}: "
                f"pip install {' '.join(missing)}"
            )
        source = where or f"{self.name} params"
        self.params = validate(self.Params, dict(params or {}), source, ConfigError)


class Collector(Component):
    """Turns one source into samples (see :mod:`regionadapt.samples` for the fields)."""

    def collect(self, ctx: Context) -> Iterator[dict[str, Any]]:
        raise NotImplementedError


class Filter(Component):
    """Keeps or drops samples. Return ``True`` to keep, ``(False, reason)`` to drop.

    ``setup`` runs once before the first sample (load a model, build an automaton);
    override ``keep_batch`` where a batch form pays (a model scoring many images at once).
    """

    def setup(self, ctx: Context) -> None:
        return None

    def keep(self, sample: dict[str, Any]) -> bool | tuple[bool, str]:
        raise NotImplementedError

    def keep_batch(self, samples: list[dict[str, Any]]) -> list[bool | tuple[bool, str]]:
        return [self.keep(s) for s in samples]


class Backend(Component):
    """One architecture's model library: load, tune, export to safetensors, load back.

    A checkpoint is a folder. The backend writes its weights as safetensors files in it (the
    merge engine streams them tensor by tensor) plus whatever it needs to load them back.
    """

    arch: ClassVar[str]

    def prepare_base(self, ctx: Context, out_dir: Path) -> None:
        """Materialise the configured base model as a checkpoint folder in ``out_dir``."""
        raise NotImplementedError

    def tune(self, ctx: Context, base_dir: Path, train_data: Path, out_dir: Path) -> dict[str, Any]:
        """Fine-tune the checkpoint in ``base_dir`` on the dataset saved at ``train_data``.

        Writes a full checkpoint folder (adapters fused) to ``out_dir``; returns a summary for
        the manifest (steps, final loss, seconds...).
        """
        raise NotImplementedError

    def mergeable_files(self, ckpt_dir: Path) -> list[str]:
        """Safetensors files (relative paths) the merge combines; every other file is copied."""
        return sorted(str(p.relative_to(ckpt_dir)) for p in ckpt_dir.rglob("*.safetensors"))

    def load(self, ckpt_dir: Path) -> Any:
        """Load a checkpoint folder for evaluation."""
        raise NotImplementedError


@dataclass
class EvalResult:
    """One benchmark's outcome. ``score`` is in [0, 1]; ``groups`` maps a grouping (country,
    lang, income bin...) to {group value: {"score": s, "n": count}}; ``skipped`` counts items
    left out with their reason (never silently)."""

    score: float
    n: int
    metrics: dict[str, float] = field(default_factory=dict)
    groups: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "n": self.n,
            "metrics": self.metrics,
            "groups": self.groups,
            "skipped": self.skipped,
        }


class Evaluator(Component):
    """Scores a loaded model on one benchmark (its data named by the evaluator's params)."""

    archs: ClassVar[tuple[str, ...]] = ()

    def evaluate(self, model: Any, ctx: Context, split: str) -> EvalResult:
        raise NotImplementedError


BENCHMARK_FIELDS: dict[str, str] = {
    "id": "unique item id",
    "image": "encoded image bytes",
    "text": "caption (retrieval) or question (VQA); may be ''",
    "options": "list of candidate texts (multiple choice); [] for classification",
    "answer": "index of the right option (multiple choice); -1 otherwise",
    "label": "class name (classification); '' otherwise",
    "country": "ISO 3166-1 alpha-2 ('' if unknown)",
    "lang": "ISO 639-3 of the text/options ('' if unknown)",
    "meta": "JSON object: income, region, category, ...",
}


class DatasetLoader(Component):
    """Loads (or generates) a benchmark as an HF ``datasets.Dataset`` with BENCHMARK_FIELDS.

    ``role_slice`` lets the region pack decide what counts as regional: loaders that know each
    item's country return them all and evaluators slice by the pack's countries when asked.
    """

    def load(self, ctx: Context, split: str) -> Any:
        raise NotImplementedError


def build(kind: str, name: str, params: Mapping[str, Any] | None = None, where: str = "") -> Any:
    """Instantiate a registered component by kind (``filters``...) and name, validating params."""
    from regionadapt.plugins import registry

    try:
        cls = registry(kind).get(name)
    except PluginError as exc:
        if not where:
            raise
        # Name the config key that holds the unknown name (``where`` points at its params).
        raise PluginError(f"{where.removesuffix('.params')}: {exc}") from None
    return cls(params, where=where)

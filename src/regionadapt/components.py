"""Base classes for the components plugins register: collectors, filters, backends, evaluators.

(Merge methods live in :mod:`regionadapt.merge`.) Each component is a class with a unique
``name``, a one-paragraph ``description`` and a pydantic ``Params`` model: its typed parameters
with defaults, validated when the component is built from a config, with errors naming the key.

Nothing here imports torch: heavy libraries are imported inside the methods that use them.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
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
    # The label of the model being scored ("base", "tuned", "b=0.25") while the merge or
    # evaluate stage scores it: an evaluator that keeps outputs files them under it (a loaded
    # handle knows only its folder, and the chosen merge's folder is "model").
    model: str | None = None

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

    def check_pack(self, pack: RegionPack) -> None:
        """Refuse, with a ConfigError saying what is missing, a region pack this component
        cannot work with. Called for every configured component when the project opens, so
        the problem shows before any stage runs (not minutes later, in the stage that needs it)."""
        return None


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


ADAPTER_DIR = "adapter"


class Backend(Component):
    """One architecture's model library: load, tune, export to safetensors, load back.

    A checkpoint is a folder. The backend writes its weights as safetensors files in it (the
    merge engine streams them tensor by tensor) plus whatever it needs to load them back. The
    lifecycle validates ``[<arch>.model.params]`` against ``ModelParams`` and ``[<arch>.tune]``
    against ``TuneParams`` when the project opens, and passes the validated objects in.
    See docs/plugin-authors.md, "Backends", for the whole contract.
    """

    arch: ClassVar[str]
    ModelParams: ClassVar[type[Strict]] = NoParams
    TuneParams: ClassVar[type[Strict]] = NoParams
    # The protocol ``load`` returns (regionadapt.handles): what evaluators may call.
    handle: ClassVar[type | None] = None
    # The merge grid ``init`` writes for real models (the paper's, where it gives one).
    merge_grid: ClassVar[tuple[float, ...]] = (0.25, 0.5, 0.75)
    # Where the TuneParams defaults come from, one line (``init`` writes it as a comment).
    recipe: ClassVar[str] = ""

    @classmethod
    def recognises(cls, model: str) -> bool:
        """Whether ``model`` (a hub id or a local folder) looks like this backend's kind of model;
        ``init --model X`` without ``--arch`` uses the one backend that says so. Must be cheap:
        no download, no heavy import."""
        return False

    def prepare_base(self, ctx: Context, model: Any, out_dir: Path) -> None:
        """Materialise the base model ``model`` (validated ModelParams) as a checkpoint folder."""
        raise NotImplementedError

    def tune(
        self, ctx: Context, params: Any, base_dir: Path, train_data: Path, out_dir: Path
    ) -> dict[str, Any]:
        """Fine-tune the checkpoint in ``base_dir`` on the dataset saved at ``train_data``.

        Writes a full checkpoint folder (adapters fused) to ``out_dir``; a backend that tuned
        LoRA adapters may also save them unfused in ``out_dir.parent / ADAPTER_DIR`` for a cheap
        merge sweep (see :meth:`interpolate`). Returns a summary for the manifest (steps, final
        loss, seconds...).
        """
        raise NotImplementedError

    def mergeable_files(self, ckpt_dir: Path) -> list[str]:
        """Safetensors files (relative paths) the merge combines; every other file is copied."""
        return sorted(str(p.relative_to(ckpt_dir)) for p in ckpt_dir.rglob("*.safetensors"))

    def load(self, spec: str | Path) -> Any:
        """Load a checkpoint folder (or a model id the backend's library resolves) for
        evaluation; returns an object satisfying :attr:`handle`."""
        raise NotImplementedError

    def unload(self, handle: Any) -> None:
        """Release a loaded model, accelerator memory included. Override to free more."""
        _release_memory()

    def interpolate(self, base_dir: Path, tuned_dir: Path, b: float) -> Any | None:
        """Load ``theta_b = b * tuned + (1 - b) * base`` in memory without writing files, or
        return None (the default) and the lifecycle writes the linear merge and loads that.

        A LoRA backend applies its unfused adapter (``tuned_dir.parent / ADAPTER_DIR``) at
        scale ``b``: ``W + b * s * B @ A`` is exactly that linear merge, at a fraction of the
        cost. Only called for the ``linear`` merge method.
        """
        return None


def _release_memory() -> None:
    import gc
    import sys

    gc.collect()
    torch = sys.modules.get("torch")  # never import torch just to free memory
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


@dataclass
class ModelSource:
    """A named source of base models that is not a plain ``params`` table: the demo world's
    cached small models, a team's model registry... Returned by the ``resolve_model_source``
    hook; ``[<arch>.model] source = "<name>"`` selects it.

    ``build(seed)`` returns the ModelParams values to use (e.g. ``{"model": "/cache/..."}``),
    building and caching the model first if needed: it is called in the tune stage, never when a
    project merely opens. The rest is what ``init`` writes for a project on this source.
    """

    name: str
    arch: str
    build: Callable[[int], dict[str, Any]]
    # ModelParams values that stand in for what ``build`` will return, so that the project's
    # ``[<arch>.model.params]`` can be validated when it opens (e.g. {"model": "demo-world"}).
    placeholder: dict[str, Any] = field(default_factory=dict)
    # Shown beside every number measured on models from this source ("" for none).
    label: str = ""
    description: str = ""
    tune: dict[str, Any] = field(default_factory=dict)
    merge_grid: tuple[float, ...] = ()
    # [[<arch>.evaluate.benchmarks]] entries: {name, role, evaluator, params}.
    benchmarks: list[dict[str, Any]] = field(default_factory=list)
    # Comments init writes above the tune table (why this source's recipe differs).
    notes: str = ""
    # Demo-world collector params init writes for a project on this source, over the demo's
    # defaults (e.g. more global rehearsal for a model that forgets fast). A project initialised
    # for several architectures shares one pool: each source's changes apply, in --arch order.
    collect: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalResult:
    """One benchmark's outcome.

    ``score`` is finite, in [0, 1], higher is better (the lifecycle refuses anything else,
    naming the evaluator). ``items`` holds one score per scored item, in a fixed order, where the
    score is their mean (accuracy, CLIPScore/100...): the lifecycle bootstraps confidence
    intervals and paired differences from it. A metric that is not an accuracy also reports
    ``raw`` (its own value and unit, e.g. CLIPScore 31.2) and says in ``normalization`` how
    ``score`` was derived from it. ``groups`` maps a grouping (country, lang, income bin...) to
    {group value: {"score": s, "n": count}}; ``skipped`` counts items left out with their
    reason (never silently). ``images`` lists pictures the evaluator kept in the run for people
    to look at (e.g. contact sheets of generated images): {"path": relative to the run folder,
    "title": a caption}; the report shows each one once.
    """

    score: float
    n: int
    metrics: dict[str, float] = field(default_factory=dict)
    groups: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    items: list[float] | None = None
    raw: float | None = None
    raw_name: str = ""
    normalization: str = ""
    images: list[dict[str, str]] = field(default_factory=list)

    def check(self, who: str) -> None:
        """Refuse a score that does not mean "in [0, 1], higher is better"."""
        if not isinstance(self.score, (int, float)) or not math.isfinite(self.score):
            raise ValueError(f"{who}: score must be a finite number, got {self.score!r}")
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(
                f"{who}: score must lie in [0, 1] (higher is better), got {self.score!r}; "
                "normalise the metric and report it as `raw`"
            )
        for img in self.images:
            path = str(img.get("path", "")) if isinstance(img, dict) else ""
            parts = PurePosixPath(path).parts
            if not path or path.startswith("/") or ".." in parts or "\\" in path:
                raise ValueError(
                    f"{who}: images entry {img!r}: expected {{'path': a '/'-separated path "
                    "inside the run folder, 'title': text}"
                )
        if self.items is not None:
            if len(self.items) != self.n:
                raise ValueError(f"{who}: {len(self.items)} item scores for n={self.n} items")
            bad = [x for x in self.items if not (math.isfinite(x) and 0.0 <= x <= 1.0)]
            if bad:
                raise ValueError(f"{who}: item scores must lie in [0, 1], got {bad[:3]}")
            if self.items and abs(sum(self.items) / len(self.items) - self.score) > 1e-6:
                raise ValueError(
                    f"{who}: the mean of the item scores is not the score ({self.score!r}); "
                    "`items` must be the per-item scores the score averages"
                )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "score": self.score,
            "n": self.n,
            "metrics": self.metrics,
            "groups": self.groups,
            "skipped": self.skipped,
        }
        if self.raw is not None:
            out["raw"] = self.raw
            out["raw_name"] = self.raw_name
            out["normalization"] = self.normalization
        if self.items is not None:
            out["items"] = self.items
        if self.images:
            out["images"] = [{"path": i["path"], "title": i.get("title", "")} for i in self.images]
        return out


class Evaluator(Component):
    """Scores a loaded model on one benchmark (its data named by the evaluator's params)."""

    archs: ClassVar[tuple[str, ...]] = ()
    # The handle protocol (regionadapt.handles) the model must satisfy; None: any.
    needs: ClassVar[type | None] = None
    # The region-pack benchmark task kinds this evaluator scores (``init`` writes a pack
    # benchmark with task T for arch A with the first evaluator declaring both).
    tasks: ClassVar[tuple[str, ...]] = ()

    def evaluate(self, model: Any, ctx: Context, split: str) -> EvalResult:
        raise NotImplementedError

    @classmethod
    def pack_params(cls, bench: Any, pack: RegionPack) -> dict[str, Any] | None:
        """The params that make this evaluator score the region pack's benchmark ``bench``
        (``init`` writes them), or None when it cannot. The default suits evaluators whose
        params name a data-set loader: the loader is the benchmark id without a trailing
        ``-<pack id>`` (``cvqa-sea`` reads with the ``cvqa`` loader, sliced to the pack)."""
        from regionadapt.plugins import registry

        loader = bench.id.removesuffix(f"-{pack.id}")
        if loader not in registry("datasets"):
            return None
        where = {"hub_id": bench.hub_id} if bench.hub_id else {"path": "/path/to/local/copy"}
        params: dict[str, Any] = {"dataset": loader, "dataset_params": where}
        if bench.slice:
            params["slice"] = bench.slice
        return params

    @classmethod
    def pack_note(cls, bench: Any, pack: RegionPack) -> str | None:
        """Why ``pack_params`` needs no download, when it needs none (prompts generated from the
        pack or shipped with the plugin): ``init`` then writes the benchmark active, with this
        note as its comment. None (the default): a benchmark without a hub id needs a local
        copy and is written commented out."""
        return None


BENCHMARK_FIELDS: dict[str, str] = {
    "id": "unique item id",
    "image": "encoded image bytes; None for items without one (a text-to-image prompt)",
    "text": "caption (retrieval), question (VQA) or prompt (text-to-image); may be ''",
    "options": "list of candidate texts (multiple choice); [] for classification",
    "answer": "index of the right option (multiple choice); -1 otherwise",
    "label": "class name (classification); '' otherwise",
    "reference": "free-text reference answer or caption (open VQA, captioning); '' otherwise",
    "country": "ISO 3166-1 alpha-2 ('' if unknown)",
    "lang": "ISO 639-3 of the text/options ('' if unknown)",
    "meta": "JSON object: income, region, category, ...",
}


# Columns a benchmark may leave out (older local copies); readers fill in the empty value.
OPTIONAL_BENCHMARK_FIELDS: dict[str, Any] = {"reference": ""}


def benchmark_features() -> Any:
    """The ``datasets.Features`` of a benchmark in the common schema (imports datasets)."""
    import datasets

    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "image": datasets.Value("binary"),
            "text": datasets.Value("string"),
            "options": datasets.Sequence(datasets.Value("string")),
            "answer": datasets.Value("int64"),
            "label": datasets.Value("string"),
            "reference": datasets.Value("string"),
            "country": datasets.Value("string"),
            "lang": datasets.Value("string"),
            "meta": datasets.Value("string"),
        }
    )


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

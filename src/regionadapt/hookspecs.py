"""The hooks a regionadapt plugin can implement.

A plugin is a module (or object) with functions decorated by ``@regionadapt.hookimpl`` whose
names match the specs below. Plugins are found through the ``regionadapt`` entry-point group;
the built-in ones in ``plugins/`` are found the very same way.

Registration hooks receive a ``register`` callback. Call it once per component you provide.
Components are classes with a ``name`` class attribute (see :mod:`regionadapt.components`);
a name registered twice, by any two plugins, is an error naming both plugins.

Hooks must not raise. Every call goes through one guard (:mod:`regionadapt.plugins`): a
registration hook that raises loses that call's contributions, an observer that raises is
reported once and the run goes on; ``--strict-plugins`` makes either an error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # only for type checkers: keeps start-up free of heavy imports
    import typer

    from regionadapt.components import ModelSource
    from regionadapt.rundir import RunDir, StageRecord

hookspec = pluggy.HookspecMarker("regionadapt")
hookimpl = pluggy.HookimplMarker("regionadapt")


@hookspec
def register_region_packs(register: Callable[[Any], None]) -> None:
    """Provide region packs.

    Call ``register(path)`` with the path of a TOML region pack (see docs/region-packs.md).
    Called once per process, the first time packs are listed or a pack is looked up by id.
    Packs are validated lazily: a malformed pack is reported when it is used or validated.
    """


@hookspec
def register_backends(register: Callable[[type], None]) -> None:
    """Provide architecture backends (subclasses of :class:`regionadapt.components.Backend`).

    A backend loads a model for one architecture (``embedding``, ``t2i`` or ``lvlm``), tunes it,
    exports its weights as safetensors for the merge and loads merged weights back for evaluation.
    Called once per process, when a backend is first needed.
    """


@hookspec
def register_collectors(register: Callable[[type], None]) -> None:
    """Provide collectors (subclasses of :class:`regionadapt.components.Collector`).

    A collector turns a source (a folder, a hub data set, URL lists, the demo world...) into samples
    for the ``collect`` stage. Called once per process, when a collector is first needed.
    """


@hookspec
def register_filters(register: Callable[[type], None]) -> None:
    """Provide filters (subclasses of :class:`regionadapt.components.Filter`).

    A filter decides, per sample, keep or drop-with-a-reason in the ``filter`` stage.
    Called once per process, when a filter is first needed.
    """


@hookspec
def register_merge_methods(register: Callable[[type], None]) -> None:
    """Provide merge methods (subclasses of :class:`regionadapt.merge.MergeMethod`).

    A merge method combines the same tensor from several checkpoints into one tensor; the merge
    engine streams tensors through it one at a time. Called once per process, when first needed.
    """


@hookspec
def register_evaluators(register: Callable[[type], None]) -> None:
    """Provide evaluators (subclasses of :class:`regionadapt.components.Evaluator`).

    An evaluator scores a loaded model on one benchmark and returns a score in [0, 1] with its
    per-group breakdown. Called once per process, when an evaluator is first needed.
    """


@hookspec
def register_datasets(register: Callable[[type], None]) -> None:
    """Provide benchmark/data-set loaders (subclasses of :class:`regionadapt.components.DatasetLoader`).

    A loader reads one published benchmark (by hub id or a local folder) or generates one (the
    demo world) into the common benchmark schema that evaluators read. Called once per process,
    when a loader is first needed.
    """


@hookspec(firstresult=True)
def resolve_model_source(source: str, arch: str) -> ModelSource | None:
    """Resolve ``[<arch>.model] source = "<source>"`` to a :class:`~regionadapt.components.ModelSource`.

    Return None when this plugin does not provide ``source`` for ``arch``. Stops at the first
    non-None result. Called when a project opens (to validate the name) and by ``init``: it must
    be cheap; building the model belongs in the returned ``ModelSource.build``. The demo world
    answers ``source = "demo-world"`` for each architecture it has a base model for.
    """


@hookspec
def model_sources(arch: str) -> list[str]:
    """The model-source names this plugin provides for ``arch`` (for error messages and docs)."""


@hookspec
def register_commands(cli: typer.Typer) -> None:
    """Add commands or command groups to the ``regionadapt`` CLI.

    Called once, while the CLI is being built, before arguments are parsed. Keep heavy imports
    inside the command functions so that ``regionadapt --help`` stays fast.
    """


@hookspec
def stage_started(stage: str, run: RunDir) -> None:
    """Observe a lifecycle stage starting (``collect``, ``filter``, ``tune``, ``merge``, ``evaluate``).

    Called for every plugin that implements it, in the main process, just before the stage runs
    (not when it is skipped because its record is up to date). Return values are ignored.
    For loggers, experiment trackers, notifications.
    """


@hookspec
def stage_finished(stage: str, run: RunDir, record: StageRecord) -> None:
    """Observe a lifecycle stage finishing, successfully or not (``record.status`` says which).

    Called for every plugin that implements it, in the main process, after the stage's outputs
    are committed (or after it failed). Return values are ignored. For loggers, trackers, model
    cards.
    """

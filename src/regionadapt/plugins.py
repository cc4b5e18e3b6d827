"""The one plugin manager, the entry-point loader, the component registries and the guard that
every hook call goes through.

Every plugin, built-in or third-party, is found through the ``regionadapt`` entry-point group.
A plugin never takes the tool down: one that fails to import (``SystemExit`` and
``KeyboardInterrupt`` at import included) is reported by name and skipped; one that raises in a
registration hook is reported and its contributions are dropped while everyone else's stay; an
observer that raises is reported once and the run goes on. ``--strict-plugins`` (or
``strict_plugins = true`` in the project file, or ``REGIONADAPT_STRICT_PLUGINS=1``) turns any
such failure into an error, for CI.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any

import pluggy

from regionadapt import hookspecs
from regionadapt.errors import PluginError
from regionadapt.registry import Registry

ENTRY_POINT_GROUP = "regionadapt"
BUILTIN_DIST = "regionadapt"
# A comma-separated list of entry-point names: load only those.
ONLY_ENV = "REGIONADAPT_PLUGINS"
# "1": load only regionadapt's own built-in plugins (tests set it so that plugins installed on
# the machine cannot leak in).
BUILTIN_ONLY_ENV = "REGIONADAPT_BUILTIN_ONLY"
STRICT_ENV = "REGIONADAPT_STRICT_PLUGINS"
DEBUG_ENV = "REGIONADAPT_DEBUG"

KINDS = (
    "region_packs", "backends", "collectors", "filters", "merge_methods", "evaluators", "datasets",
)  # fmt: skip


@dataclass
class PluginInfo:
    name: str
    dist: str | None = None
    version: str | None = None
    origin: str = ""
    error: str | None = None  # the last error, "Type: message"
    hooks: list[str] = field(default_factory=list)
    # "ok", "failed to load", or "failed in <hook>[, <hook>...]" (what it lost is in `error`).
    failed_in: list[str] = field(default_factory=list)
    loaded: bool = True

    @property
    def state(self) -> str:
        if not self.loaded:
            return "failed to load"
        return f"failed in {', '.join(self.failed_in)}" if self.failed_in else "ok"

    @property
    def label(self) -> str:
        """How messages name it: the plugin and the distribution that installed it."""
        return f"{self.name!r} ({self.dist})" if self.dist else repr(self.name)


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus the guarded calls: ``pm.notify(...)`` for observer hooks."""

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        notify(hook_name, **kwargs)

    def first_result(self, hook_name: str, **kwargs: Any) -> Any:
        return first_result(hook_name, **kwargs)

    def results(self, hook_name: str, **kwargs: Any) -> list[Any]:
        return results(hook_name, **kwargs)


pm = PluginManager("regionadapt")
pm.add_hookspecs(hookspecs)

_loaded = False
_strict = False
_infos: dict[str, PluginInfo] = {}
_registries: dict[str, Registry] = {}
_reported: set[tuple[str, str]] = set()


def debug() -> bool:
    return bool(os.environ.get(DEBUG_ENV))


def _dist_name(ep: importlib.metadata.EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"] if dist is not None else None


def _entry_points() -> list[tuple[str, importlib.metadata.EntryPoint]]:
    """(plugin name, entry point) pairs in load order: the built-ins first, then by name.

    A third-party entry point keeps its own name unless another distribution uses that name,
    in which case it is namespaced as ``<distribution>:<name>``: nobody can shadow a built-in
    (or another distribution) by reusing its entry-point name.
    """
    eps = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    if os.environ.get(BUILTIN_ONLY_ENV) == "1":
        eps = [ep for ep in eps if _dist_name(ep) == BUILTIN_DIST]
    # Several installs of one distribution can list the same entry point: keep the first.
    seen: dict[tuple[str | None, str], importlib.metadata.EntryPoint] = {}
    for ep in eps:
        seen.setdefault((_dist_name(ep), ep.name), ep)
    dists_of: dict[str, set[str | None]] = {}
    for dist, name in seen:
        dists_of.setdefault(name, set()).add(dist)
    named = []
    for (dist, name), ep in seen.items():
        clash = len(dists_of[name]) > 1 and dist != BUILTIN_DIST
        named.append((f"{dist}:{name}" if clash else name, ep))
    only = os.environ.get(ONLY_ENV)
    if only is not None:
        wanted = {n.strip() for n in only.split(",") if n.strip()}
        named = [(n, ep) for n, ep in named if n in wanted or ep.name in wanted]
    return sorted(named, key=lambda pair: (_dist_name(pair[1]) != BUILTIN_DIST, pair[0]))


def set_strict(on: bool = True) -> None:
    """Make every plugin failure an error. Failures already recorded are raised at once."""
    global _strict
    _strict = on
    if on:
        failed = [i for i in _infos.values() if i.error]
        if failed:
            raise PluginError(
                "strict plugins: "
                + "; ".join(f"plugin {i.label} {i.state}: {i.error}" for i in failed)
            )


def strict() -> bool:
    return _strict or os.environ.get(STRICT_ENV) == "1"


def report_failure(plugin: str, where: str, exc: BaseException, lost: str = "") -> None:
    """Record that ``plugin`` failed in ``where`` and say so once on stderr (or raise if strict)."""
    info = _infos.get(plugin) or _infos.setdefault(plugin, PluginInfo(name=plugin))
    info.error = f"{type(exc).__name__}: {exc}"
    if where == "import":
        info.loaded = False
    elif where not in info.failed_in:
        info.failed_in.append(where)
    if where == "import":  # name the module too: the author looks for it
        label = f"{info.name!r} ({', '.join(x for x in (info.dist, info.origin) if x)})"
        message = f"plugin {label} failed to load and was skipped: {info.error}"
    else:
        message = f"plugin {info.label} failed in {where}{'' if strict() else lost}: {info.error}"
    if strict():
        raise PluginError(f"{message} (strict plugins)") from exc
    if (plugin, where) in _reported:
        return
    _reported.add((plugin, where))
    if debug():
        traceback.print_exception(exc)
    print(f"regionadapt: {message}", file=sys.stderr)


def load_plugins() -> None:
    """Import every entry point of the group once; failures are recorded, not raised."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name, ep in _entry_points():
        dist = getattr(ep, "dist", None)
        info = PluginInfo(
            name=name,
            dist=dist.metadata["Name"] if dist is not None else None,
            version=dist.version if dist is not None else None,
            origin=ep.value,
        )
        _infos[name] = info
        try:
            module = ep.load()
            if pm.is_registered(module) or pm.get_plugin(name) is not None:
                continue
            pm.register(module, name=name)
        # SystemExit and KeyboardInterrupt too: a plugin calling sys.exit() at import must not
        # end the CLI without naming itself.
        except (Exception, SystemExit, KeyboardInterrupt) as exc:
            report_failure(name, "import", exc)
            continue
        info.hooks = _hooks_of(name)


def register_plugin(plugin: Any, name: str) -> None:
    """Register an in-process plugin object (tests, notebooks). Clears the registry caches."""
    load_plugins()
    pm.register(plugin, name=name)
    _infos[name] = PluginInfo(name=name, origin=repr(plugin), hooks=_hooks_of(name))
    _registries.clear()


def unregister_plugin(name: str) -> None:
    plugin = pm.get_plugin(name)
    if plugin is not None:
        pm.unregister(plugin)
    _infos.pop(name, None)
    _registries.clear()


def reset() -> None:
    """Forget every loaded plugin so that the next lookup loads the entry points afresh.

    For tests: after changing ``sys.path`` or the plugin environment variables, call this (and
    again when done) so that entry points are read again. It unregisters every plugin this
    module registered (entry-point and :func:`register_plugin` ones) and clears the load flag,
    the plugin infos, the failure reports, strict mode and the component registries. The hook
    specs stay.
    """
    global _loaded, _strict
    for name in list(_infos):
        plugin = pm.get_plugin(name)
        if plugin is not None:
            pm.unregister(plugin)
    _loaded = False
    _strict = False
    _infos.clear()
    _registries.clear()
    _reported.clear()


def _hooks_of(plugin_name: str) -> list[str]:
    return sorted(
        hook_name
        for hook_name in pm.hook.__dict__
        if not hook_name.startswith("_")
        for impl in getattr(pm.hook, hook_name).get_hookimpls()
        if impl.plugin_name == plugin_name
    )


def plugin_infos() -> list[PluginInfo]:
    load_plugins()
    for info in _infos.values():
        if info.loaded:
            info.hooks = _hooks_of(info.name)
    return sorted(_infos.values(), key=lambda i: i.name)


def owner_label(plugin: str) -> str:
    info = _infos.get(plugin)
    return info.label if info else repr(plugin)


def _call(impl: pluggy.HookImpl, kwargs: dict[str, Any]) -> Any:
    return impl.function(**{a: kwargs[a] for a in impl.argnames if a in kwargs})


def _impls(hook_name: str) -> list[pluggy.HookImpl]:
    # pluggy calls the last registered first; keep its order so results match pm.hook.<name>.
    return list(reversed(getattr(pm.hook, hook_name).get_hookimpls()))


def notify(hook_name: str, **kwargs: Any) -> None:
    """Call an observer hook on every plugin; one that raises is reported once, the rest run."""
    load_plugins()
    for impl in _impls(hook_name):
        try:
            _call(impl, kwargs)
        except (Exception, SystemExit) as exc:
            report_failure(impl.plugin_name, hook_name, exc, "; the run goes on")


def results(hook_name: str, **kwargs: Any) -> list[Any]:
    """Every non-None result of a query hook; a plugin that raises is reported and skipped."""
    load_plugins()
    out = []
    for impl in _impls(hook_name):
        try:
            value = _call(impl, kwargs)
        except (Exception, SystemExit) as exc:
            report_failure(impl.plugin_name, hook_name, exc, "; its answer was ignored")
            continue
        if value is not None:
            out.append(value)
    return out


def first_result(hook_name: str, **kwargs: Any) -> Any:
    """The first non-None result of a query hook (like ``firstresult``), guarded."""
    load_plugins()
    for impl in _impls(hook_name):
        try:
            value = _call(impl, kwargs)
        except (Exception, SystemExit) as exc:
            report_failure(impl.plugin_name, hook_name, exc, "; its answer was ignored")
            continue
        if value is not None:
            return value
    return None


def add_commands(cli: Any) -> None:
    """Call ``register_commands``; a plugin that raises loses only the commands it added."""
    load_plugins()
    for impl in _impls("register_commands"):
        before = (list(cli.registered_commands), list(cli.registered_groups))
        try:
            _call(impl, {"cli": cli})
        except (Exception, SystemExit) as exc:
            cli.registered_commands[:], cli.registered_groups[:] = before
            report_failure(
                impl.plugin_name, "register_commands", exc, "; its commands were dropped"
            )


def registry(kind: str) -> Registry:
    """The registry for one kind of component, filled by calling its ``register_*`` hook."""
    if kind not in KINDS:
        raise ValueError(f"unknown component kind {kind!r}; expected one of {KINDS}")
    load_plugins()
    if kind in _registries:
        return _registries[kind]
    reg: Registry = Registry(kind.rstrip("s").replace("_", " "), describe=owner_label)
    hook = getattr(pm.hook, f"register_{kind}")
    for impl in hook.get_hookimpls():  # registration order = load order (built-ins first)
        owner = impl.plugin_name
        staged: list[Any] = []
        # A plugin's components join only once its hook returned: one that raises midway
        # contributes nothing, not half of what it meant to.
        try:
            impl.function(register=staged.append)
            if kind != "region_packs":
                for obj in staged:
                    reg.check_name(getattr(obj, "name", None), owner)
        except (Exception, SystemExit) as exc:
            report_failure(owner, f"register_{kind}", exc, f"; its {kind} were dropped")
            continue
        for obj in staged:
            if kind == "region_packs":
                from regionadapt.packs import add_pack

                add_pack(reg, obj, owner)
            else:
                reg.add(obj.name, obj, owner)  # a name taken by another plugin fails, naming both
    _registries[kind] = reg
    return reg

"""The one plugin manager, the entry-point loader and the component registries.

Every plugin, built-in or third-party, is found through the ``regionadapt`` entry-point group.
A plugin that fails to import is reported by name and skipped: it never takes the CLI down.
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
from regionadapt.registry import Registry

ENTRY_POINT_GROUP = "regionadapt"
# A comma-separated list of entry-point names: load only those.
ONLY_ENV = "REGIONADAPT_PLUGINS"
# "1": load only regionadapt's own built-in plugins (tests set it so that plugins installed on
# the machine cannot leak in).
BUILTIN_ONLY_ENV = "REGIONADAPT_BUILTIN_ONLY"

KINDS = (
    "region_packs", "backends", "collectors", "filters", "merge_methods", "evaluators", "datasets",
)  # fmt: skip


@dataclass
class PluginInfo:
    name: str
    dist: str | None = None
    version: str | None = None
    origin: str = ""
    error: str | None = None
    hooks: list[str] = field(default_factory=list)


pm = pluggy.PluginManager("regionadapt")
pm.add_hookspecs(hookspecs)

_loaded = False
_infos: dict[str, PluginInfo] = {}
_registries: dict[str, Registry] = {}


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    only = os.environ.get(ONLY_ENV)
    if only is not None:
        wanted = {n.strip() for n in only.split(",") if n.strip()}
        eps = [ep for ep in eps if ep.name in wanted]
    if os.environ.get(BUILTIN_ONLY_ENV) == "1":
        eps = [
            ep for ep in eps if ep.dist is not None and ep.dist.metadata["Name"] == "regionadapt"
        ]
    # Several installs of one distribution can list the same entry point: keep the first.
    seen: dict[str, importlib.metadata.EntryPoint] = {}
    for ep in eps:
        seen.setdefault(ep.name, ep)
    return sorted(seen.values(), key=lambda ep: ep.name)


def load_plugins() -> None:
    """Import every entry point of the group once; failures are recorded, not raised."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for ep in _entry_points():
        dist = getattr(ep, "dist", None)
        info = PluginInfo(
            name=ep.name,
            dist=dist.metadata["Name"] if dist is not None else None,
            version=dist.version if dist is not None else None,
            origin=ep.value,
        )
        _infos[ep.name] = info
        try:
            module = ep.load()
            if pm.is_registered(module) or pm.get_plugin(ep.name) is not None:
                continue
            pm.register(module, name=ep.name)
        except Exception as exc:  # any import-time failure of a third-party module
            info.error = f"{type(exc).__name__}: {exc}"
            if os.environ.get("REGIONADAPT_DEBUG"):
                traceback.print_exc()
            print(
                f"regionadapt: plugin {ep.name!r} ({ep.value}) failed to load and was skipped: "
                f"{info.error}",
                file=sys.stderr,
            )
            continue
        info.hooks = _hooks_of(ep.name)


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
    the plugin infos and the component registries. The hook specs stay.
    """
    global _loaded
    for name in list(_infos):
        plugin = pm.get_plugin(name)
        if plugin is not None:
            pm.unregister(plugin)
    _loaded = False
    _infos.clear()
    _registries.clear()


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
        if info.error is None:
            info.hooks = _hooks_of(info.name)
    return sorted(_infos.values(), key=lambda i: i.name)


def registry(kind: str) -> Registry:
    """The registry for one kind of component, filled by calling its ``register_*`` hook."""
    if kind not in KINDS:
        raise ValueError(f"unknown component kind {kind!r}; expected one of {KINDS}")
    load_plugins()
    if kind in _registries:
        return _registries[kind]
    reg: Registry = Registry(kind.rstrip("s").replace("_", " "))
    hook = getattr(pm.hook, f"register_{kind}")
    for impl in hook.get_hookimpls():  # registration order = load order (entry points by name)
        owner = impl.plugin_name

        def register(obj: Any, _owner: str = owner) -> None:
            if kind == "region_packs":
                from regionadapt.packs import pack_source

                source = pack_source(obj)
                reg.add(source.id, source, _owner)
            else:
                reg.add(getattr(obj, "name", None), obj, _owner)

        impl.function(register=register)
    _registries[kind] = reg
    return reg

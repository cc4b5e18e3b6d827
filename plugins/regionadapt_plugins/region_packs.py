"""Registers the region packs shipped with regionadapt (every ``*.toml`` in ``regions/``)."""

from __future__ import annotations

from importlib.resources import files

from regionadapt.hookspecs import hookimpl


@hookimpl
def register_region_packs(register):
    for entry in sorted(files("regionadapt_regions").iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            register(str(entry))

"""Benchmark loaders: published data sets (by hub id or a local folder) mapped to the common
benchmark schema (``regionadapt.components.BENCHMARK_FIELDS``) that evaluators read.

A built-in plugin, registered through the ``benchmarks`` entry point like any third-party one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from regionadapt.hookspecs import hookimpl


@hookimpl
def register_datasets(register: Callable[[Any], None]) -> None:
    from regionadapt_plugins.benchmarks.local import LocalBenchmark
    from regionadapt_plugins.benchmarks.published import LOADERS
    from regionadapt_plugins.benchmarks.worldcuisines import WorldCuisines

    register(LocalBenchmark)
    for loader in LOADERS:
        register(loader)
    register(WorldCuisines)

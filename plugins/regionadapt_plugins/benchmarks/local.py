"""A benchmark already in the common schema, read from a local folder.

For data sets you prepared yourself: a ``datasets.save_to_disk`` folder or a JSON-lines folder
(see :mod:`regionadapt_plugins.benchmarks.base`). Columns absent from the folder get their empty
value (``options`` [], ``answer`` -1, the others ''), so a classification set needs only
``id``, ``image`` and ``label``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from regionadapt.components import BENCHMARK_FIELDS
from regionadapt.errors import ConfigError
from regionadapt_plugins.benchmarks.base import BenchmarkLoader, LoaderParams


class LocalParams(LoaderParams):
    path: str = Field(min_length=1, description="the folder holding the benchmark")


class LocalBenchmark(BenchmarkLoader):
    name = "local-benchmark"
    description = "A benchmark in the common schema from a local folder (save_to_disk or JSONL)."
    Params = LocalParams

    def map_row(self, row: dict[str, Any], i: int, raw_split: str) -> list[dict[str, Any]]:
        unknown = set(row) - set(BENCHMARK_FIELDS)
        if unknown:
            raise ConfigError(
                f"{self.params.path}: item {i}: unknown columns {sorted(unknown)}; "
                f"expected the benchmark schema: {', '.join(BENCHMARK_FIELDS)}"
            )
        if "id" not in row:
            row = {**row, "id": str(i)}
        return [dict(row)]

"""The filter stage's passes on Ray Data (``executor="ray"``), for a cluster.

Each pass is the same callable the local executor maps (per-sample filters, or a stateful
filter's key half); only where it runs changes, so the kept set is the same. Rows carry their
position so that results are put back in dataset order whatever order Ray returns them in.
``ray.init()`` joins the cluster named by ``RAY_ADDRESS`` when set, else starts a local
instance with ``workers`` CPUs.

The rows travel from this process into Ray's object store; for collections larger than one
machine's memory, point Ray at the dataset's files on shared storage instead (not done yet).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

ROW = "__regionadapt_row"


def _ensure_ray(workers: int):
    try:
        import ray
    except ImportError:
        from regionadapt.errors import StageError

        raise StageError(
            'filter --executor ray needs Ray Data: pip install "regionadapt[ray]"'
        ) from None
    if not ray.is_initialized():
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if not os.environ.get("RAY_ADDRESS"):
            kwargs["num_cpus"] = max(workers, 1)
        ray.init(**kwargs)
    return ray


def ray_map(
    ds: Any, fn: Callable[[dict[str, list]], dict[str, list]], workers: int, batch_size: int
) -> dict[str, list]:
    import pyarrow as pa

    ray = _ensure_ray(workers)
    table = ds.with_format("arrow")[:]
    table = table.append_column(ROW, pa.array(range(len(ds)), pa.int64()))
    blocks = max(1, min(len(ds) // max(batch_size, 1) + 1, 4 * max(workers, 1)))
    data = ray.data.from_arrow(table).repartition(blocks)

    def apply(batch: pa.Table) -> pa.Table:
        rows = batch.drop_columns([ROW]).to_pydict()
        out = fn(rows)
        return pa.table({**out, ROW: batch[ROW]})

    result = data.map_batches(apply, batch_format="pyarrow", batch_size=batch_size).to_arrow_refs()
    merged = pa.concat_tables(ray.get(result)).sort_by(ROW)
    return {k: merged[k].to_pylist() for k in merged.column_names if k != ROW}

"""The filter stage's passes on Ray Data (``executor="ray"``), for a cluster.

Each pass is the same callable the local executor maps (per-sample filters, or a stateful
filter's key half); only where it runs changes, so the kept set is the same. ``ray.init()``
joins the cluster named by ``RAY_ADDRESS`` when set, else starts a local instance with
``workers`` CPUs.

The samples are never shipped from this process: each Ray task gets a piece of the saved
dataset (an Arrow file and a range of its rows), opens the file where it runs
(memory-mapped), keeps the rows still alive and returns only the pass's small columns (a
decision, a hash). Cluster nodes must therefore see the run directory at the same path (shared
storage, as Ray Data's file readers also assume). Results carry their row position and are put
back in dataset order, whatever order Ray returns them in.
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


def _file_rows(path: str) -> int:
    """Rows in one Arrow stream file (what ``save_to_disk`` writes); memory-mapped, no copy."""
    import pyarrow as pa

    with pa.memory_map(path) as source:
        return sum(b.num_rows for b in pa.ipc.open_stream(source))


def _pieces(files: list[str], alive: list[int], target_rows: int) -> list[dict[str, Any]]:
    """Cut the alive rows into pieces of about ``target_rows``, each inside one file: ``path``,
    the file's first global row ``offset`` and the local row range ``start:stop``."""
    import bisect

    pieces: list[dict[str, Any]] = []
    offset = 0
    for path in files:
        n = _file_rows(path)
        lo, hi = bisect.bisect_left(alive, offset), bisect.bisect_left(alive, offset + n)
        for i in range(lo, hi, target_rows):
            chunk = alive[i : min(i + target_rows, hi)]
            pieces.append({"path": path, "offset": offset, "start": chunk[0] - offset,
                           "stop": chunk[-1] + 1 - offset})  # fmt: skip
        offset += n
    return pieces


def _run_piece(
    piece: dict[str, Any], alive_ref: Any, fn: Callable[[dict[str, list]], dict[str, list]],
    batch_size: int,
) -> Any:  # fmt: skip
    """On a Ray worker: read one piece, keep the alive rows, apply ``fn`` batch by batch."""
    import numpy as np
    import pyarrow as pa
    import ray

    alive_mask = ray.get(alive_ref)
    with pa.memory_map(piece["path"]) as source:
        table = pa.ipc.open_stream(source).read_all()  # zero-copy views of the mapped file
        table = table.slice(piece["start"], piece["stop"] - piece["start"])
        first = piece["offset"] + piece["start"]
        rows = np.arange(first, first + table.num_rows, dtype=np.int64)
        keep = alive_mask[rows]
        table, rows = table.filter(pa.array(keep)), rows[keep]
        outs = []
        for start in range(0, table.num_rows, batch_size):
            out = fn(table.slice(start, batch_size).to_pydict())
            outs.append(pa.table({**out, ROW: rows[start : start + batch_size]}))
    return pa.concat_tables(outs, promote_options="default")


def ray_map(
    ds: Any,
    alive: list[int],
    fn: Callable[[dict[str, list]], dict[str, list]],
    workers: int,
    batch_size: int,
) -> dict[str, list]:
    """``fn`` over the rows ``alive`` (ascending positions) of ``ds``, a dataset loaded from
    disk; its columns in ``alive`` order."""
    import numpy as np
    import pyarrow as pa

    ray = _ensure_ray(workers)
    files = [f["filename"] for f in ds.cache_files]
    if not files or getattr(ds, "_indices", None) is not None:
        raise ValueError("ray_map needs a dataset read from its files (datasets.load_from_disk)")
    mask = np.zeros(len(ds), dtype=bool)
    mask[alive] = True
    target = max(batch_size, -(-len(alive) // (4 * max(workers, 1))))
    pieces = _pieces(files, alive, target)
    alive_ref = ray.put(mask)

    def apply(batch: pa.Table) -> pa.Table:
        parts = [_run_piece(p, alive_ref, fn, batch_size) for p in batch.to_pylist()]
        return pa.concat_tables(parts, promote_options="default")

    data = ray.data.from_items(pieces, override_num_blocks=len(pieces))
    refs = data.map_batches(apply, batch_format="pyarrow", batch_size=1).to_arrow_refs()
    merged = pa.concat_tables(ray.get(refs), promote_options="default").sort_by(ROW)
    if merged[ROW].to_pylist() != list(alive):
        raise RuntimeError("ray executor: results do not cover the alive rows exactly once")
    return {k: merged[k].to_pylist() for k in merged.column_names if k != ROW}

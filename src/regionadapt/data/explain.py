"""``regionadapt filter --explain SAMPLE_ID``: why one sample was kept or dropped; with a
pattern (``--explain 'demo-sea-0001*'``, ``--explain '*'``), the matching ids and their fate."""

from __future__ import annotations

import difflib
import fnmatch
import json
from pathlib import Path
from typing import Any

from regionadapt.errors import StageError

PATTERN_CHARS = "*?["


def is_pattern(text: str) -> bool:
    return any(c in text for c in PATTERN_CHARS)


def _decisions(filter_dir: Path) -> tuple[Any, list[str]]:
    import pyarrow.parquet as pq

    path = filter_dir / "decisions.parquet"
    if not path.is_file():
        raise StageError(f"explain: {path} not found; run the filter stage first")
    order: list[str] = []
    stats_path = filter_dir / "stats.json"
    if stats_path.is_file():
        order = json.loads(stats_path.read_text(encoding="utf-8")).get("order", [])
    return pq.read_table(path, columns=["id", "dropped_by", "reason"]), order


def _fate(row: dict[str, Any], order: list[str]) -> str:
    if not row["dropped_by"]:
        passed = ", ".join(order) if order else "(no filters configured)"
        return f"kept; passed every filter in order: {passed}"
    step = order.index(row["dropped_by"]) + 1 if row["dropped_by"] in order else "?"
    return (
        f"dropped by filter {row['dropped_by']!r} "
        f"(step {step} of {len(order) or '?'}): {row['reason']}"
    )


def explain(filter_dir: Path, sample_id: str) -> str:
    """Which filter dropped ``sample_id`` and why, or that it passed every filter.

    Raises StageError for an id the filter stage never read (with the closest ids it did)."""
    import pyarrow.compute as pc

    filter_dir = Path(filter_dir)
    table, order = _decisions(filter_dir)
    rows = table.filter(pc.equal(table["id"], sample_id)).to_pylist()
    if not rows:
        close = difflib.get_close_matches(sample_id, table["id"].to_pylist(), n=3, cutoff=0.6)
        hint = f"; closest: {', '.join(close)}" if close else ""
        raise StageError(
            f"explain: {sample_id!r} is not among the {table.num_rows} samples this filter stage "
            f"read{hint} (list them with --explain '*'; collect may have skipped it: see "
            "collect/stats.json)"
        )
    return f"{sample_id}: {_fate(rows[0], order)}"


def list_ids(filter_dir: Path, pattern: str, limit: int = 50) -> str:
    """The ids matching a shell-style ``pattern``, one a line with their fate; at most
    ``limit`` lines, then how many more matched. Raises StageError when none match."""
    table, order = _decisions(Path(filter_dir))
    rows = [r for r in table.to_pylist() if fnmatch.fnmatchcase(r["id"], pattern)]
    if not rows:
        raise StageError(
            f"explain: no sample id matches {pattern!r} among the {table.num_rows} samples "
            "this filter stage read (patterns: * any text, ? one character)"
        )
    kept = sum(1 for r in rows if not r["dropped_by"])
    lines = [f"{len(rows)} sample(s) match {pattern!r}: {kept} kept, {len(rows) - kept} dropped"]
    for r in rows[:limit]:
        fate = "kept" if not r["dropped_by"] else f"dropped by {r['dropped_by']}: {r['reason']}"
        lines.append(f"  {r['id']}  {fate}")
    if len(rows) > limit:
        lines.append(f"  ... and {len(rows) - limit} more (narrow the pattern)")
    return "\n".join(lines)

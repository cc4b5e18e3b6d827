"""``regionadapt filter --explain SAMPLE_ID``: why one sample was kept or dropped."""

from __future__ import annotations

import json
from pathlib import Path

from regionadapt.errors import StageError


def explain(filter_dir: Path, sample_id: str) -> str:
    """Which filter dropped ``sample_id`` and why, or that it passed every filter."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    filter_dir = Path(filter_dir)
    path = filter_dir / "decisions.parquet"
    if not path.is_file():
        raise StageError(f"explain: {path} not found; run the filter stage first")
    table = pq.read_table(path)
    rows = table.filter(pc.equal(table["id"], sample_id)).to_pylist()
    order: list[str] = []
    steps: list[dict] = []
    stats_path = filter_dir / "stats.json"
    if stats_path.is_file():
        stats = json.loads(stats_path.read_text(encoding="utf-8"))
        order, steps = stats.get("order", []), stats.get("steps", [])
    if not rows:
        return (
            f"{sample_id}: not among the {table.num_rows} samples this filter stage read "
            f"(check the id, or whether collect skipped it: see collect/stats.json)"
        )
    row = rows[0]
    tree = _tree(steps) if any("group" in s for s in steps) else ""
    if not row["dropped_by"]:
        passed = ", ".join(order) if order else "(no filters configured)"
        why = f"\n  why: {row['reason']}" if row["reason"] else ""
        return f"{sample_id}: kept; passed every filter in order: {passed}{why}{tree}"
    step = order.index(row["dropped_by"]) + 1 if row["dropped_by"] in order else "?"
    return (
        f"{sample_id}: dropped by filter {row['dropped_by']!r} "
        f"(step {step} of {len(order) or '?'}): {row['reason']}{tree}"
    )


def _tree(steps: list[dict]) -> str:
    """The configured steps as an indented tree (groups show their operator and members)."""
    lines = ["", "filter steps:"]

    def walk(node: dict, depth: int, prefix: str) -> None:
        pad = "  " * depth
        if "group" in node:
            label = node["label"]
            shown = node["group"] if label == node["group"] else f"{label} ({node['group']})"
            lines.append(f"{pad}{prefix}{shown}")
            for member in node["members"]:
                walk(member, depth + 1, "- ")
        else:
            lines.append(f"{pad}{prefix}{node['filter']}")

    for i, node in enumerate(steps, 1):
        walk(node, 1, f"{i}. ")
    return "\n".join(lines)

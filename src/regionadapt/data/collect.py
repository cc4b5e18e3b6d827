"""The collect stage: run collectors, validate what they yield, write one dataset + stats.

Samples are streamed into an Arrow file (bounded memory whatever the source size), then saved
with ``datasets.save_to_disk``. Every item a source yields is either written or skipped with a
reason; every skip is listed in ``skipped.jsonl`` (source, reason, item, detail: e.g. each URL
whose owner opted out of AI use), the stats count them by reason; a source that fails outright
(unreachable, missing) is recorded with its error and the other sources still run.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from regionadapt.components import Collector, Context
from regionadapt.data.skip import Skip
from regionadapt.data.store import save_dataset
from regionadapt.rundir import atomic_write_json
from regionadapt.samples import FIELDS
from regionadapt.samples import messages as chat_turns

MAX_EXAMPLES = 5
_STRING_FIELDS = [f for f in FIELDS if f not in ("image",)]


def _check(sample: Any, label: str) -> dict[str, Any] | Skip:
    """A valid sample dict (text fields decoded, source filled in) or the reason it is not."""
    if isinstance(sample, Skip):
        return sample
    if not isinstance(sample, dict):
        return Skip("bad-sample", label, f"expected a dict, got {type(sample).__name__}")
    sid = sample.get("id")
    where = f"{label}:{sid}" if sid else label
    unknown = set(sample) - set(FIELDS)
    if unknown:
        return Skip("bad-sample", where, f"unknown fields {sorted(unknown)}")
    if not isinstance(sid, str) or not sid:
        return Skip("missing-field", where, "id: expected a non-empty string")
    out: dict[str, Any] = {}
    for name in _STRING_FIELDS:
        value = sample.get(name, "")
        if name == "messages" and isinstance(value, list):
            value = json.dumps(value, ensure_ascii=False)
        if value is None:
            value = ""
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError as exc:
                return Skip("undecodable-text", where, f"{name}: not UTF-8 ({exc.reason})")
        if not isinstance(value, str):
            return Skip("bad-field", where, f"{name}: expected text, got {type(value).__name__}")
        out[name] = value
    image = sample.get("image")
    if image is not None and not isinstance(image, (bytes, bytearray, memoryview)):
        return Skip(
            "bad-field", where, f"image: expected bytes or None, got {type(image).__name__}"
        )
    out["image"] = bytes(image) if image is not None else None
    out["meta"] = out["meta"] or "{}"
    out["source"] = out["source"] or label
    if out["messages"]:
        try:
            chat_turns(out)
        except ValueError as exc:  # includes malformed JSON
            return Skip("bad-messages", where, str(exc))
    return out


def _new_source_stats(collector: Collector) -> dict[str, Any]:
    return {"collector": collector.name, "read": 0, "written": 0, "skipped": 0,
            "reasons": {}, "examples": {}, "error": None}  # fmt: skip


def _run_source(
    collector: Collector, label: str, ctx: Context, writer: Any, seen: set[str], skip_log: Any
) -> dict[str, Any]:
    st = _new_source_stats(collector)
    reasons: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}

    def skip(s: Skip) -> None:
        st["skipped"] += 1
        reasons[s.reason] += 1
        ex = examples.setdefault(s.reason, [])
        if len(ex) < MAX_EXAMPLES:
            ex.append(str(s))
        record = {"source": label, "reason": s.reason, "item": s.where, "detail": s.detail}
        skip_log.write(json.dumps(record, ensure_ascii=False) + "\n")

    try:
        items: Iterable[Any] = collector.collect(ctx)
        for item in items:
            st["read"] += 1
            checked = _check(item, label)
            if isinstance(checked, Skip):
                skip(checked)
                continue
            if checked["id"] in seen:
                skip(Skip("duplicate-id", f"{label}:{checked['id']}", "id already collected"))
                continue
            seen.add(checked["id"])
            writer.write(checked)
            st["written"] += 1
    except Exception as exc:  # a source failing must not take the others down
        st["error"] = f"{type(exc).__name__}: {exc}"
        ctx.log(f"collect: source {label!r} ({collector.name}) failed: {st['error']}")
    st["reasons"] = dict(reasons)
    st["examples"] = examples
    return st


def run_collect(
    sources: list[tuple[Collector, str]],
    ctx: Context,
    out_dir: Path,
    may_fail: set[str] | frozenset[str] = frozenset(),
) -> dict:
    """Run each ``(collector, label)``; write ``out_dir/dataset``, ``out_dir/stats.json`` and
    ``out_dir/skipped.jsonl`` (one line per skipped item).

    Returns the stats: per source read/written/skipped with reasons and examples, plus totals.
    A source that fails outright fails the stage (raised after every source ran, so the stats
    show them all) unless its label is in ``may_fail``.
    """
    import datasets
    from datasets.arrow_writer import ArrowWriter

    from regionadapt.samples import features

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = [label for _, label in sources]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        from regionadapt.errors import ConfigError

        raise ConfigError(f"collect: source labels must be unique; repeated: {dup}")
    scratch = out_dir / ".collect-scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    arrow_path = scratch / "samples.arrow"
    stats: dict[str, Any] = {"sources": {}}
    seen: set[str] = set()
    writer = ArrowWriter(features=features(), path=str(arrow_path), writer_batch_size=500)
    try:
        with open(out_dir / "skipped.jsonl", "w", encoding="utf-8") as skip_log:
            for collector, label in sources:
                ctx.log(f"collect: {label} ({collector.name})")
                stats["sources"][label] = _run_source(collector, label, ctx, writer, seen, skip_log)
        writer.finalize()
    finally:
        writer.close()
    ds = datasets.Dataset.from_file(str(arrow_path))
    target = out_dir / "dataset"
    shutil.rmtree(target, ignore_errors=True)
    save_dataset(ds, target)
    del ds
    shutil.rmtree(scratch, ignore_errors=True)
    per = stats["sources"].values()
    stats["total"] = {
        "read": sum(s["read"] for s in per),
        "written": sum(s["written"] for s in per),
        "skipped": sum(s["skipped"] for s in per),
        "sources_failed": sorted(label for label, s in stats["sources"].items() if s["error"]),
    }
    atomic_write_json(out_dir / "stats.json", stats)
    fatal = [label for label in stats["total"]["sources_failed"] if label not in may_fail]
    if fatal:
        from regionadapt.errors import StageError

        errors = "; ".join(f"{label!r}: {stats['sources'][label]['error']}" for label in fatal)
        raise StageError(
            f'collect: source(s) failed: {errors} (fix the source, or set on_error = "skip" '
            "on it in [[collect.sources]] to go on without it)"
        )
    return stats

"""The filter stage: apply filters in config order, keep every drop's reason, write stats.

Execution plan. Consecutive per-sample filters form one *pass* mapped over the surviving rows
(``datasets.map`` with worker processes locally, Ray Data with ``executor="ray"``); a stateful
filter (duplicates, balance...) is a pass of its own: its keys are computed in parallel, its
decisions in one process in dataset order. Only decisions travel back (two short strings per
row), never images, and the kept/dropped datasets are index selections of the input. The
result is therefore the same whatever the executor and the number of workers.

Outputs in ``out_dir``: ``kept/`` and ``dropped/`` (datasets; ``dropped`` has ``dropped_by`` and
``reason`` columns), ``decisions.parquet`` (id, dropped_by, reason for every row read: what
``explain`` reads; a kept row's reason holds the notes of the steps that kept it, e.g. which
member of an ``any_of`` group) and ``stats.json`` (per filter, reason, country, language and category).
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from regionadapt.components import Context, Filter
from regionadapt.data.store import save_dataset
from regionadapt.errors import StageError
from regionadapt.rundir import atomic_write_json

EXECUTORS = ("local", "ray")
_KEPT = ""  # dropped_by value of a kept row


def reason_code(reason: str) -> str:
    """The part of a reason stats group by: "lang-not-in-pack: eng" -> "lang-not-in-pack"."""
    return reason.split(":", 1)[0].strip() or reason


def as_reason(result: Any) -> str | None:
    """None to keep (an abstention lets the sample through); the drop reason otherwise."""
    from regionadapt.data.groups import answer

    kind, text = answer(result)
    return text if kind == "drop" else None


def keep_note(result: Any) -> str:
    """What a keeping filter said about why (a group names its deciding member), or ""."""
    from regionadapt.data.groups import answer

    kind, text = answer(result)
    return text if kind == "keep" else ""


def filter_labels(filters: list[Filter]) -> list[str]:
    """Names used in ``dropped_by``: the filter's name, with ``#2``... when a name repeats."""
    counts: Counter[str] = Counter()
    labels = []
    for f in filters:
        counts[f.name] += 1
        labels.append(f.name if counts[f.name] == 1 else f"{f.name}#{counts[f.name]}")
    return labels


class _Setup:
    """Runs each filter's ``setup`` once per process (worker processes get unpickled copies)."""

    def __init__(self, filters: list[Filter], ctx: Context) -> None:
        self.filters = filters
        self.ctx = ctx
        self._pid: int | None = None

    def ensure(self) -> None:
        if self._pid != os.getpid():
            for f in self.filters:
                f.setup(self.ctx)
            self._pid = os.getpid()


class _RowPass(_Setup):
    """Per-sample filters over a batch: returns the first drop of each row."""

    def __init__(self, filters: list[Filter], labels: list[str], ctx: Context) -> None:
        super().__init__(filters, ctx)
        self.labels = labels

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        self.ensure()
        rows = _rows(batch)
        by = [_KEPT] * len(rows)
        why = [""] * len(rows)
        alive = list(range(len(rows)))
        for f, label in zip(self.filters, self.labels, strict=True):
            if not alive:
                break
            results = _safe_batch(f, [rows[i] for i in alive])
            still = []
            for i, res in zip(alive, results, strict=True):
                reason = as_reason(res)
                if reason is None:
                    still.append(i)
                    note = keep_note(res)
                    if note:  # kept rows carry the notes of the steps that explain them
                        why[i] = f"{why[i]}; {label}: {note}" if why[i] else f"{label}: {note}"
                else:
                    by[i], why[i] = label, reason
            alive = still
        return {"_by": by, "_reason": why}


class _KeyPass(_Setup):
    """The parallel half of a stateful filter: one JSON key per row."""

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        self.ensure()
        (f,) = self.filters
        rows = _rows(batch)
        try:
            keys = f.key_batch(rows)
        except Exception:  # fall back row by row so one bad row cannot lose the batch
            keys = []
            for row in rows:
                try:
                    keys.append(f.key_batch([row])[0])
                except Exception as exc:
                    keys.append({"__error__": f"{type(exc).__name__}: {exc}"})
        return {"_key": [json.dumps(k, ensure_ascii=False) for k in keys]}


def _rows(batch: dict[str, list]) -> list[dict[str, Any]]:
    names = list(batch)
    n = len(batch[names[0]]) if names else 0
    return [{k: batch[k][i] for k in names} for i in range(n)]


def _safe_batch(f: Filter, rows: list[dict[str, Any]]) -> list[Any]:
    try:
        out = f.keep_batch(rows)
        if len(out) != len(rows):
            raise ValueError(f"keep_batch returned {len(out)} results for {len(rows)} samples")
        return out
    except Exception:
        results = []
        for row in rows:
            try:
                results.append(f.keep(row))
            except Exception as exc:
                results.append((False, f"filter-error: {type(exc).__name__}: {exc}"))
        return results


def _map(ds, alive: list[int], fn, executor: str, workers: int, batch_size: int) -> dict[str, list]:
    """Apply ``fn`` (batch -> columns) to the rows ``alive`` of ``ds``; the columns, in order."""
    if not alive:
        return {}
    if executor == "ray":
        from regionadapt.data.ray_exec import ray_map

        return ray_map(ds, alive, fn, workers, batch_size)  # the workers read the files
    ds = ds.select(alive, keep_in_memory=True)
    num_proc = min(workers, len(ds)) if workers > 1 else None
    out = ds.map(
        fn,
        batched=True,
        batch_size=batch_size,
        num_proc=num_proc,
        remove_columns=ds.column_names,
        keep_in_memory=True,  # decisions are small; never write cache files into the input
        load_from_cache_file=False,
        new_fingerprint=f"regionadapt-filter-{os.getpid()}-{id(fn)}",
        desc="filter",
    )
    return out.to_dict()


def _plan(filters: list[Filter]) -> list[list[int]]:
    """Group filter positions: runs of per-sample filters, each stateful filter alone."""
    groups: list[list[int]] = []
    for i, f in enumerate(filters):
        if (
            getattr(f, "stateful", False)
            or not groups
            or getattr(filters[groups[-1][0]], "stateful", False)
        ):
            groups.append([i])
        else:
            groups[-1].append(i)
    return groups


def run_filters(
    dataset_dir: Path,
    filters: list[Filter],
    ctx: Context,
    out_dir: Path,
    *,
    workers: int = 1,
    executor: str = "local",
    batch_size: int = 256,
) -> dict:
    """Filter the dataset saved at ``dataset_dir``; write kept/, dropped/, decisions, stats."""
    import datasets

    if executor not in EXECUTORS:
        raise StageError(f"filter: unknown executor {executor!r}; expected one of {EXECUTORS}")
    dataset_dir, out_dir = Path(dataset_dir), Path(out_dir)
    try:
        ds = datasets.load_from_disk(str(dataset_dir))
    except FileNotFoundError as exc:
        raise StageError(
            f"filter: no dataset at {dataset_dir} ({exc}); run collect first"
        ) from None
    labels = filter_labels(filters)
    n = len(ds)
    by = [_KEPT] * n
    why = [""] * n
    alive = list(range(n))
    seen: list[int] = [0] * len(filters)
    for group in _plan(filters):
        if not alive:
            for i in group:
                seen[i] = 0
            continue
        first = filters[group[0]]
        if getattr(first, "stateful", False):
            seen[group[0]] = len(alive)
            ctx.log(f"filter: {labels[group[0]]} on {len(alive)} samples")
            key_pass = _KeyPass([first], ctx)
            cols = _map(ds, alive, key_pass, executor, workers, batch_size)
            keys = [json.loads(k) for k in cols["_key"]]
            key_pass.ensure()  # decide_all runs here, in the main process
            decisions = _decide_all(first, keys, ds.select(alive, keep_in_memory=True)["id"])
            still = []
            for row, res in zip(alive, decisions, strict=True):
                reason = as_reason(res)
                if reason is None:
                    still.append(row)
                else:
                    by[row], why[row] = labels[group[0]], reason
            alive = still
        else:
            ctx.log(f"filter: {', '.join(labels[i] for i in group)} on {len(alive)} samples")
            cols = _map(
                ds,
                alive,
                _RowPass([filters[i] for i in group], [labels[i] for i in group], ctx),
                executor,
                workers,
                batch_size,
            )
            still = []
            dropped_at: Counter[str] = Counter()
            for row, b, r in zip(alive, cols["_by"], cols["_reason"], strict=True):
                if b == _KEPT:
                    still.append(row)
                    if r:
                        why[row] = f"{why[row]}; {r}" if why[row] else r
                else:
                    by[row], why[row] = b, r
                    dropped_at[b] += 1
            remaining = len(alive)
            for i in group:
                seen[i] = remaining
                remaining -= dropped_at[labels[i]]
            alive = still
    return _write(ds, by, why, filters, labels, seen, out_dir, ctx, executor, workers)


def _decide_all(f: Filter, keys: list[Any], ids: list[str]) -> list[Any]:
    """``decide_all`` with keys that failed to compute turned into drops naming their error."""
    errors = {
        i: k["__error__"] for i, k in enumerate(keys) if isinstance(k, dict) and "__error__" in k
    }
    clean = [None if i in errors else k for i, k in enumerate(keys)]
    out = list(f.decide_all(clean, ids))
    for i, err in errors.items():
        out[i] = (False, f"filter-error: {err}")
    return out


def _category(meta_json: str) -> str:
    try:
        meta = json.loads(meta_json or "{}")
    except (json.JSONDecodeError, TypeError):
        return ""
    return str(meta.get("category", "")) if isinstance(meta, dict) else ""


def _write(
    ds, by, why, filters, labels, seen, out_dir: Path, ctx: Context, executor: str, workers: int
) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out_dir.mkdir(parents=True, exist_ok=True)
    kept_idx = [i for i, b in enumerate(by) if b == _KEPT]
    drop_idx = [i for i, b in enumerate(by) if b != _KEPT]
    for name in ("kept", "dropped"):
        shutil.rmtree(out_dir / name, ignore_errors=True)
    save_dataset(ds.select(kept_idx, keep_in_memory=True), out_dir / "kept")
    if drop_idx:
        dropped = ds.select(drop_idx, keep_in_memory=True)
        dropped = dropped.add_column("dropped_by", [by[i] for i in drop_idx])
        dropped = dropped.add_column("reason", [why[i] for i in drop_idx])
    else:  # add_column cannot extend an empty table
        import datasets

        feats = datasets.Features({**ds.features, "dropped_by": datasets.Value("string"),
                                   "reason": datasets.Value("string")})  # fmt: skip
        dropped = datasets.Dataset.from_dict({k: [] for k in feats}, features=feats)
    save_dataset(dropped, out_dir / "dropped")

    light = ds.select_columns(["id", "country", "lang", "meta"]).to_dict()
    pq.write_table(
        pa.table({"id": light["id"], "dropped_by": by, "reason": why}),
        out_dir / "decisions.parquet",
    )
    stats = _stats(light, by, why, labels, seen)
    stats["steps"] = [
        f.describe() if hasattr(f, "describe") else {"filter": label}
        for f, label in zip(filters, labels, strict=True)
    ]
    stats["executor"] = executor
    stats["workers"] = workers
    atomic_write_json(out_dir / "stats.json", stats)
    ctx.log(f"filter: read {stats['read']}, kept {stats['kept']}, dropped {stats['dropped']}")
    return stats


def _stats(light: dict[str, list], by, why, labels, seen) -> dict[str, Any]:
    n = len(by)
    per_filter = {
        label: {"seen": seen[i], "dropped": 0, "kept": 0, "reasons": Counter()}
        for i, label in enumerate(labels)
    }
    by_reason: Counter[str] = Counter()
    groups: dict[str, dict[str, dict[str, int]]] = {
        "country": defaultdict(lambda: {"read": 0, "kept": 0, "dropped": 0}),
        "lang": defaultdict(lambda: {"read": 0, "kept": 0, "dropped": 0}),
        "category": defaultdict(lambda: {"read": 0, "kept": 0, "dropped": 0}),
    }
    for i in range(n):
        values = {
            "country": light["country"][i] or "(unknown)",
            "lang": light["lang"][i] or "(unknown)",
            "category": _category(light["meta"][i]) or "(unknown)",
        }
        outcome = "kept" if by[i] == _KEPT else "dropped"
        for key, value in values.items():
            g = groups[key][value]
            g["read"] += 1
            g[outcome] += 1
        if by[i] != _KEPT:
            code = reason_code(why[i])
            per_filter[by[i]]["dropped"] += 1
            per_filter[by[i]]["reasons"][code] += 1
            by_reason[code] += 1
    for entry in per_filter.values():
        entry["kept"] = entry["seen"] - entry["dropped"]
        entry["reasons"] = dict(entry["reasons"].most_common())
    kept = sum(1 for b in by if b == _KEPT)
    return {
        "read": n,
        "kept": kept,
        "dropped": n - kept,
        "filters": per_filter,
        "order": labels,
        "by_reason": dict(by_reason.most_common()),
        "by_country": dict(sorted(groups["country"].items())),
        "by_lang": dict(sorted(groups["lang"].items())),
        "by_category": dict(sorted(groups["category"].items())),
    }

"""The run directory: stages pass data through it, never through memory.

    runs/<name>/
      config.toml      resolved config + snapshot of the region pack
      manifest.json    one record per stage: status, times, input/output hashes, versions
      collect/ filter/ tune/ merge/ evaluate/
      merge-cache/     scores of finished merge candidates, so a killed merge stage resumes
      report/          what `regionadapt report RUN_DIR` renders (outside every stage's folder)

A stage writes into a temporary sibling folder and is renamed into place only when it has
finished; the manifest is rewritten atomically after that. A run killed at any moment therefore
never leaves a partial output that counts as done: the next run finds no matching record and
redoes the stage (stale temporary folders are removed).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STAGES = ("collect", "filter", "tune", "merge", "evaluate")
_TMP_PREFIX = ".tmp-"
# Files above this size are fingerprinted by size + head + tail instead of a full hash: a
# re-run must not spend minutes re-reading a 50 GB checkpoint to decide it can be skipped.
_FULL_HASH_LIMIT = 64 * 1024 * 1024
_EDGE = 1024 * 1024


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that readers see the old or the new content, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{_TMP_PREFIX}{path.name}.{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a failed write (disk full, interrupt) leaves nothing behind
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def hash_json(data: Any) -> str:
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _file_fingerprint(path: Path) -> str:
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        if size <= _FULL_HASH_LIMIT:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        else:
            h.update(fh.read(_EDGE))
            fh.seek(size - _EDGE)
            h.update(fh.read(_EDGE))
    return h.hexdigest()


def _is_derived_cache(path: Path) -> bool:
    # HF datasets writes ``cache-<hash>.arrow`` next to a saved dataset when a later stage maps
    # over it: a cache derived from the output, not part of it.
    return path.name.startswith("cache-") and path.suffix == ".arrow"


def hash_tree(root: Path) -> str:
    """A fingerprint of every file below ``root`` (relative names + contents)."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not _is_derived_cache(p)):
        h.update(str(path.relative_to(root)).encode())
        h.update(_file_fingerprint(path).encode())
    return h.hexdigest()[:16]


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("regionadapt", "torch", "open_clip_torch", "transformers", "diffusers", "peft",
                 "accelerate", "datasets", "safetensors"):  # fmt: skip
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


@dataclass
class StageRecord:
    stage: str
    status: str  # "done" | "failed"
    input_hash: str
    output_hash: str = ""
    started: str = ""
    seconds: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    error: str = ""


class RunDir:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def stage_dir(self, stage: str) -> Path:
        return self.root / stage

    def manifest(self) -> dict[str, StageRecord]:
        if not self.manifest_path.exists():
            return {}
        data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        return {name: StageRecord(**rec) for name, rec in data.get("stages", {}).items()}

    def record(self, stage: str) -> StageRecord | None:
        return self.manifest().get(stage)

    def _save(self, records: dict[str, StageRecord]) -> None:
        atomic_write_json(
            self.manifest_path,
            {"stages": {name: asdict(rec) for name, rec in records.items()}},
        )

    def is_current(self, stage: str, input_hash: str) -> bool:
        """True when the stage finished with these inputs and its output is untouched."""
        rec = self.record(stage)
        out = self.stage_dir(stage)
        return (
            rec is not None
            and rec.status == "done"
            and rec.input_hash == input_hash
            and out.is_dir()
            and hash_tree(out) == rec.output_hash
        )

    def invalidate(self, stages: list[str]) -> None:
        records = self.manifest()
        for stage in stages:
            records.pop(stage, None)
        self._save(records)

    def begin(self, stage: str) -> Path:
        """A fresh temporary folder to build the stage's output in."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.clean_stale()
        tmp = self.root / f"{_TMP_PREFIX}{stage}-{os.getpid()}"
        tmp.mkdir()
        return tmp

    def clean_stale(self) -> None:
        """Remove temporary folders left by killed runs (their owner process is gone)."""
        for p in self.root.glob(f"{_TMP_PREFIX}*"):
            pid = p.name.rsplit("-", 1)[-1].split(".")[-1]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)

    def commit(
        self, stage: str, tmp: Path, input_hash: str, started: float, summary: dict
    ) -> StageRecord:
        final = self.stage_dir(stage)
        old = None
        if final.exists():
            old = self.root / f"{_TMP_PREFIX}old-{stage}-{os.getpid()}"
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self._store(
            stage, "done", input_hash, started, output_hash=hash_tree(final), summary=summary
        )

    def fail(
        self, stage: str, tmp: Path, input_hash: str, started: float, error: str
    ) -> StageRecord:
        shutil.rmtree(tmp, ignore_errors=True)
        return self._store(stage, "failed", input_hash, started, error=error)

    def _store(
        self, stage: str, status: str, input_hash: str, started: float, **fields: Any
    ) -> StageRecord:
        """Write one stage's record into the manifest (atomically) and return it."""
        rec = StageRecord(
            stage=stage,
            status=status,
            input_hash=input_hash,
            started=_dt.datetime.fromtimestamp(started, _dt.timezone.utc).isoformat(
                timespec="seconds"
            ),
            seconds=round(time.time() - started, 2),
            versions=package_versions(),
            **fields,
        )
        records = self.manifest()
        records[stage] = rec
        self._save(records)
        return rec


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

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

Faults name their path and stage: a run folder that cannot be written or a disk with too little
free space is refused before the stage starts (:class:`ResourceError`); a stage interrupted by
Ctrl-C or SIGTERM removes its temporary folder on the way out; temporaries of dead processes
(by pid liveness) are removed at the next start. A read-only run folder still serves stages
that are up to date: rewriting a file with the content it already has writes nothing.
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

from regionadapt.errors import ResourceError, describe_os_error

STAGES = ("collect", "filter", "tune", "merge", "evaluate")
_TMP_PREFIX = ".tmp-"
# Files above this size are fingerprinted by size + head + tail instead of a full hash: a
# re-run must not spend minutes re-reading a 50 GB checkpoint to decide it can be skipped.
_FULL_HASH_LIMIT = 64 * 1024 * 1024
_EDGE = 1024 * 1024
# Below this much free space a stage is refused before it starts (unless its last output was
# bigger, then that size is asked for): a full disk found after an hour of training is useless.
MIN_FREE_BYTES = 16 * 1024 * 1024
MIN_FREE_ENV = "REGIONADAPT_MIN_FREE_MB"

# The stages this process is running now: temporary folder -> stage. Read by the CLI to name
# the stage an interrupt or an OS error stopped, and to remove what is left on the way out.
_active: dict[Path, str] = {}


# The stage that began last and did not commit (running, or failed): what an error names.
_last: dict[str, Any] = {}


def active_stage() -> str | None:
    """The stage this process is running (the innermost one), or None between stages."""
    return next(reversed(_active.values()), None)


def stage_at_fault() -> tuple[str | None, Path | None]:
    """(stage, its temporary folder) of the stage running or that failed last, else Nones."""
    return _last.get("stage"), _last.get("folder")


def remove_active() -> list[Path]:
    """Remove the temporary folders of the stages still running (on the way out)."""
    removed = []
    for tmp in list(_active):
        shutil.rmtree(tmp, ignore_errors=True)
        removed.append(tmp)
        _active.pop(tmp, None)
    return removed


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that readers see the old or the new content, never a partial one.

    A file that already holds exactly ``text`` is left alone: re-running an up-to-date stage
    then writes nothing, so it works in a read-only run folder.
    """
    try:
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{_TMP_PREFIX}{path.name}.{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)  # a failed write (disk full, interrupt) leaves nothing behind
        raise


def _unlink_quietly(path: Path) -> None:
    # The clean-up must never replace the error that made it necessary (on a read-only file
    # system even unlinking a missing file can fail).
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


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
        """A fresh temporary folder to build the stage's output in.

        Refused with a :class:`ResourceError` naming the folder and the stage when the run
        folder cannot be written or has too little free space (see :func:`check_space`).
        """
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.clean_stale()
            tmp = self.root / f"{_TMP_PREFIX}{stage}-{os.getpid()}"
            check_space(self.root, stage, self._expected_bytes(stage))
            tmp.mkdir()
        except OSError as exc:
            raise ResourceError(
                f"cannot start: {describe_os_error(exc, stage, self.root)}"
            ) from None
        _active[tmp] = stage
        _last.update(stage=stage, folder=tmp)
        return tmp

    def _expected_bytes(self, stage: str) -> int:
        """What the stage wrote last time (its rerun needs about as much), else the floor."""
        out = self.stage_dir(stage)
        size = 0
        if out.is_dir():
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        return size

    def clean_stale(self) -> None:
        """Remove temporary folders left by killed runs (their owner process is gone), in the
        run folder and one level below it (stage folders, merge-cache)."""
        clean_stale_siblings(self.root)
        for sub in self.root.iterdir():
            if sub.is_dir() and not sub.name.startswith("."):
                clean_stale_siblings(sub)

    def commit(
        self, stage: str, tmp: Path, input_hash: str, started: float, summary: dict
    ) -> StageRecord:
        final = self.stage_dir(stage)
        old = None
        if final.exists():
            old = self.root / f"{_TMP_PREFIX}old-{stage}-{os.getpid()}"
            os.replace(final, old)
        os.replace(tmp, final)
        _active.pop(tmp, None)
        _last.clear()
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self._store(
            stage, "done", input_hash, started, output_hash=hash_tree(final), summary=summary
        )

    def fail(
        self, stage: str, tmp: Path, input_hash: str, started: float, error: str
    ) -> StageRecord:
        shutil.rmtree(tmp, ignore_errors=True)
        _active.pop(tmp, None)
        try:
            return self._store(stage, "failed", input_hash, started, error=error)
        except OSError:
            # The manifest cannot be written either (read-only or full disk): the stage's own
            # error is what the user must see, not this one chained on top of it.
            return StageRecord(stage=stage, status="failed", input_hash=input_hash, error=error)

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


def check_space(folder: Path, stage: str, expected: int = 0) -> None:
    """Refuse to start ``stage`` in ``folder`` without room for its output: at least
    ``MIN_FREE_BYTES`` (``REGIONADAPT_MIN_FREE_MB``) or ``expected`` bytes, whichever is more."""
    floor = int(float(os.environ.get(MIN_FREE_ENV, MIN_FREE_BYTES / 2**20)) * 2**20)
    need = max(floor, expected)
    free = shutil.disk_usage(folder).free
    if free < need:
        raise ResourceError(
            f"cannot start stage {stage!r}: only {free / 2**20:.1f} MiB free on {folder}, "
            f"{need / 2**20:.1f} MiB needed (free some space, point run_root at a bigger disk, "
            f"or lower {MIN_FREE_ENV})"
        )


def check_writable(folder: Path, what: str, stage: str | None = None) -> None:
    """Fail now, naming ``folder``, if files cannot be created in it (a cache, a run folder)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f"{_TMP_PREFIX}probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ResourceError(
            f"{what} is not writable: {describe_os_error(exc, stage, folder)}"
        ) from None


def clean_stale_siblings(folder: Path, name: str = "") -> None:
    """Remove ``.tmp-<name>*-<pid>`` / ``.old-<name>*-<pid>`` entries of ``folder`` whose
    process is dead (``name`` narrows it to one output's temporaries in a user's folder)."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for p in entries:
        if not p.name.startswith((f"{_TMP_PREFIX}{name}", f".old-{name}")):
            continue
        pid = p.name.rsplit("-", 1)[-1].split(".")[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            try:
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            except OSError:
                pass  # a read-only folder: nothing to clean, nothing to fail over


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

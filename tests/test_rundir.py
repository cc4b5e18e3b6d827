"""The run directory: commit/skip/invalidate, tamper detection, stale temporary folders,
atomic writes, and a stage killed with SIGKILL half-way that a re-run completes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from regionadapt import rundir as rundir_mod
from regionadapt.rundir import RunDir, atomic_write_json, atomic_write_text, hash_tree

TESTS_DIR = Path(__file__).resolve().parent


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _run_stage(run: RunDir, stage: str, files: dict[str, str], input_hash: str = "h1"):
    started = time.time()
    tmp = run.begin(stage)
    for name, text in files.items():
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text(text)
    return run.commit(stage, tmp, input_hash, started, {"files": len(files)})


def test_commit_moves_output_into_place_and_records_it(tmp_path):
    run = RunDir(tmp_path / "run")
    tmp = run.begin("collect")
    assert tmp.parent == run.root and tmp.name == f".tmp-collect-{os.getpid()}"
    (tmp / "data.txt").write_text("rows")
    rec = run.commit("collect", tmp, "h1", time.time() - 2, {"rows": 1})
    assert not tmp.exists()
    assert (run.stage_dir("collect") / "data.txt").read_text() == "rows"
    assert rec.status == "done" and rec.seconds >= 2
    assert rec.output_hash == hash_tree(run.stage_dir("collect"))
    assert "regionadapt" in rec.versions
    # What the manifest on disk says, read back by a fresh RunDir.
    again = RunDir(run.root).record("collect")
    assert again == rec
    assert run.is_current("collect", "h1")
    assert not run.is_current("collect", "h2")  # other inputs: stale
    assert not run.is_current("filter", "h1")  # never ran


def test_rerun_replaces_the_old_output_entirely(tmp_path):
    run = RunDir(tmp_path)
    _run_stage(run, "collect", {"a.txt": "old", "old-only.txt": "x"})
    _run_stage(run, "collect", {"a.txt": "new"}, input_hash="h2")
    assert sorted(p.name for p in run.stage_dir("collect").iterdir()) == ["a.txt"]
    assert (run.stage_dir("collect") / "a.txt").read_text() == "new"
    assert run.is_current("collect", "h2") and not run.is_current("collect", "h1")
    assert not list(run.root.glob(".tmp-*"))


@pytest.mark.parametrize("tamper", ["modify", "add", "delete-file", "delete-dir"])
def test_is_current_false_when_output_is_touched(tmp_path, tamper):
    run = RunDir(tmp_path)
    _run_stage(run, "tune", {"weights.safetensors": "w" * 100, "sub/log.txt": "loss"})
    assert run.is_current("tune", "h1")
    out = run.stage_dir("tune")
    if tamper == "modify":
        (out / "weights.safetensors").write_text("w" * 99 + "x")  # same size, one byte differs
    elif tamper == "add":
        (out / "sub" / "extra.txt").write_text("")
    elif tamper == "delete-file":
        (out / "sub" / "log.txt").unlink()
    else:
        import shutil

        shutil.rmtree(out)
    assert not run.is_current("tune", "h1")


def test_large_files_are_fingerprinted_by_size_head_and_tail(tmp_path, monkeypatch):
    monkeypatch.setattr(rundir_mod, "_FULL_HASH_LIMIT", 1000)
    monkeypatch.setattr(rundir_mod, "_EDGE", 100)
    f = tmp_path / "big.bin"
    f.write_bytes(bytes(5000))
    h0 = hash_tree(tmp_path)
    f.write_bytes(bytes(4999) + b"\x01")  # tail changed
    assert hash_tree(tmp_path) != h0
    f.write_bytes(b"\x01" + bytes(4999))  # head changed
    assert hash_tree(tmp_path) != h0
    f.write_bytes(bytes(5001))  # size changed
    assert hash_tree(tmp_path) != h0
    f.write_bytes(bytes(5000))
    assert hash_tree(tmp_path) == h0


def test_invalidate_drops_only_the_named_stages(tmp_path):
    run = RunDir(tmp_path)
    for stage in ("collect", "filter", "tune"):
        _run_stage(run, stage, {"x": stage})
    run.invalidate(["filter", "tune"])
    assert set(run.manifest()) == {"collect"}
    assert run.is_current("collect", "h1") and not run.is_current("tune", "h1")


def test_failed_stage_is_recorded_and_never_current(tmp_path):
    run = RunDir(tmp_path)
    _run_stage(run, "collect", {"x": "1"})
    tmp = run.begin("filter")
    (tmp / "half.txt").write_text("partial")
    rec = run.fail("filter", tmp, "h1", time.time(), "ValueError: boom")
    assert not tmp.exists() and not run.stage_dir("filter").exists()
    assert rec.status == "failed" and rec.error == "ValueError: boom"
    assert run.record("filter").status == "failed"
    assert not run.is_current("filter", "h1")
    assert run.is_current("collect", "h1")  # other records untouched


def test_stale_temporaries_of_dead_processes_are_cleaned(tmp_path):
    run = RunDir(tmp_path)
    run.root.mkdir(exist_ok=True)
    dead = _dead_pid()
    stale_dir = run.root / f".tmp-collect-{dead}"
    stale_dir.mkdir()
    (stale_dir / "part.txt").write_text("half")
    stale_file = run.root / f".tmp-manifest.json.{dead}"
    stale_file.write_text("{")
    alive_dir = run.root / f".tmp-tune-{os.getppid()}"  # another live process's work
    alive_dir.mkdir()
    mine = run.begin("filter")
    assert not stale_dir.exists() and not stale_file.exists()
    assert alive_dir.exists() and mine.exists()


def test_atomic_write_keeps_old_content_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "manifest.json"
    atomic_write_json(path, {"v": 1})
    assert json.loads(path.read_text()) == {"v": 1}

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rundir_mod.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_text(path, '{"v": 2, "much": "more"}')
    assert json.loads(path.read_text()) == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_atomic_write_of_unserialisable_data_leaves_file_alone(tmp_path):
    path = tmp_path / "results.json"
    atomic_write_json(path, {"ok": True})
    with pytest.raises(TypeError):
        atomic_write_json(path, {"bad": object()})
    assert json.loads(path.read_text()) == {"ok": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


STAGE_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    sys.path.insert(0, {tests!r})
    from core_kit import demo_project
    from regionadapt.lifecycle import run_stage

    where, mode = Path(sys.argv[1]), sys.argv[2]
    project = demo_project(where)

    def stage(tmp):
        with open(where / "calls.txt", "a") as fh:
            fh.write(mode + "\\n")
        (tmp / "part-0.txt").write_text("first half")
        if mode == "hang":
            print("HALF-WRITTEN", flush=True)
            time.sleep(300)
        (tmp / "part-1.txt").write_text("second half")
        return {{"parts": 2}}

    print(run_stage(project, "collect", stage), flush=True)
    """
)


def test_stage_killed_midway_is_redone_then_skipped(tmp_path):
    script = tmp_path / "stage.py"
    script.write_text(STAGE_SCRIPT.format(tests=str(TESTS_DIR)))
    work = tmp_path / "project"
    run = RunDir(work / "runs" / "sea-embedding")

    def start(mode: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, str(script), str(work), mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    proc = start("hang")
    try:
        assert proc.stdout.readline().strip() == "HALF-WRITTEN"
        tmp = run.root / f".tmp-collect-{proc.pid}"
        assert (tmp / "part-0.txt").exists()  # half the output is on disk...
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # ...but nothing counts as done.
    assert run.record("collect") is None
    assert not run.stage_dir("collect").exists()
    assert tmp.exists()

    second = start("finish")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert out.strip() == "{'parts': 2}"
    assert not tmp.exists()  # the dead run's temporary folder was cleaned
    assert sorted(p.name for p in run.stage_dir("collect").iterdir()) == [
        "part-0.txt",
        "part-1.txt",
    ]
    rec = run.record("collect")
    assert rec.status == "done" and rec.summary == {"parts": 2}

    third = start("again")
    out, err = third.communicate(timeout=60)
    assert third.returncode == 0, err
    assert "collect: up to date, skipped" in err
    assert out.strip() == "{'parts': 2}"  # the recorded summary
    assert (work / "calls.txt").read_text().split() == ["hang", "finish"]  # not run a third time
    assert not list(run.root.glob(".tmp-*"))

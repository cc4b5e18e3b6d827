"""Fault injection through the real CLI, in subprocesses: broken plugins of each kind, broken
packs, SIGINT and SIGTERM at each stage, a read-only run folder, a tiny full file system, and
file names that are not UTF-8. Each case is one that took the tool down before (issue 12).

Mounts (a tmpfs, remounted read-only) are made inside a private mount namespace
(``unshare -m``) so that nothing outlives the command; without root or ``unshare`` those tests
are skipped, saying why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from core_kit import cli_command, write_dist
from fault_kit import SIGNALS, install_fake_plugin, interrupt_at, plugin_env, run, write_project

from regionadapt.rundir import STAGES


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site-packages"
    root.mkdir()
    install_fake_plugin(root)
    return root


@pytest.fixture
def project(tmp_path):
    return write_project(tmp_path / "project").parent


def _install(site: Path, dist: str, ep: str, source: str) -> None:
    module = f"ra_{dist.replace('-', '_')}"
    write_dist(site, dist, {ep: module}, {f"{module}.py": source})


def _blocks(listing: str) -> dict[str, str]:
    """``plugins list`` output: plugin name -> its lines."""
    out: dict[str, str] = {}
    name = ""
    for line in listing.splitlines():
        if line and not line.startswith(" "):
            name = line.split("  [", 1)[0]
            out[name] = ""
        out[name] += line + "\n"
    return out


def _provides(block: str) -> set[str]:
    line = next((x for x in block.splitlines() if x.strip().startswith("provides:")), "")
    return {x.strip() for x in line.split("provides:", 1)[-1].split(",") if x.strip()}


def _builtin_filters() -> set[str]:
    from regionadapt import plugins

    return {f"filter {n}" for n in plugins.registry("filters").names()}  # built-ins only here


def _no_traceback(res) -> None:
    assert "Traceback" not in res.stderr, res.stderr


# -- broken plugins -----------------------------------------------------------------------------

RAISING_FILTERS = """
from regionadapt.components import Filter
from regionadapt.hookspecs import hookimpl

class Half(Filter):
    name = "half-registered"

@hookimpl
def register_filters(register):
    register(Half)
    raise RuntimeError("filter registry exploded")
"""


def test_raising_register_filters_drops_only_that_plugin(site, project):
    _install(site, "ra-bad-filters", "bad_filters", RAISING_FILTERS)
    env = plugin_env(site)
    res = run(["plugins", "list"], env, project)
    assert res.returncode == 0, res.stderr
    assert (
        "plugin 'bad_filters' (ra-bad-filters) failed in register_filters; its filters were "
        "dropped: RuntimeError: filter registry exploded"
    ) in res.stderr
    blocks = _blocks(res.stdout)
    assert "state: failed in register_filters" in blocks["bad_filters"]
    assert "last error: RuntimeError: filter registry exploded" in blocks["bad_filters"]
    # Every built-in filter and the other plugin's filter are still there; the failing
    # plugin's half-registered one is not.
    assert _provides(blocks["filters"]) == _builtin_filters()
    assert _provides(blocks["fault_kit"]) >= {"filter fault-filter"}
    assert "half-registered" not in res.stdout
    # and later stages run: the whole pipeline, with the fake plugin's filter.
    res = run(["adapt"], env, project)
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("failed in register_filters") == 1


RAISING_COMMANDS = """
import typer
from regionadapt.hookspecs import hookimpl

@hookimpl
def register_commands(cli):
    @cli.command("half-added")
    def half():
        pass
    raise ValueError("no commands today")
"""


def test_raising_register_commands_keeps_help_working(site, project):
    _install(site, "ra-bad-cmds", "bad_cmds", RAISING_COMMANDS)
    res = run(["--help"], plugin_env(site), project)
    assert res.returncode == 0, res.stderr
    assert "Commands:" in res.stdout and "adapt" in res.stdout
    assert "half-added" not in res.stdout
    assert "plugin 'bad_cmds' (ra-bad-cmds) failed in register_commands" in res.stderr
    _no_traceback(res)


RAISING_OBSERVER = """
from regionadapt.hookspecs import hookimpl

@hookimpl
def stage_started(stage, run):
    raise RuntimeError("tracker down at " + stage)

@hookimpl
def stage_finished(stage, run, record):
    raise RuntimeError("tracker still down")
"""


def test_raising_observers_are_reported_once_and_the_run_goes_on(site, project):
    _install(site, "ra-bad-observer", "bad_observer", RAISING_OBSERVER)
    res = run(["adapt"], plugin_env(site), project)
    assert res.returncode == 0, res.stderr
    manifest = json.loads((project / "runs/testland-embedding/manifest.json").read_text())
    assert [s for s, r in manifest["stages"].items() if r["status"] == "done"] == list(STAGES)
    started = "plugin 'bad_observer' (ra-bad-observer) failed in stage_started; the run goes on"
    assert res.stderr.count(started) == 1  # once, not once per stage
    assert res.stderr.count("failed in stage_finished; the run goes on") == 1
    _no_traceback(res)


@pytest.mark.parametrize(
    "body, what",
    [
        ("import sys\nsys.exit(3)\n", "SystemExit: 3"),
        ("raise KeyboardInterrupt\n", "KeyboardInterrupt"),
    ],
)
def test_exit_or_interrupt_at_plugin_import_is_contained_and_named(site, project, body, what):
    _install(site, "ra-quitter", "quitter", body)
    res = run(["regions", "list"], plugin_env(site), project)
    assert res.returncode == 0, res.stderr
    assert any(line.startswith("sea ") for line in res.stdout.splitlines())
    assert (
        f"plugin 'quitter' (ra-quitter, ra_ra_quitter) failed to load and was skipped: {what}"
        in res.stderr
    )
    res = run(["plugins", "list"], plugin_env(site), project)
    assert "state: failed to load" in _blocks(res.stdout)["quitter"]


SHADOW = """
from regionadapt.components import Filter
from regionadapt.hookspecs import hookimpl

class Mine(Filter):
    name = "mine"
    def keep(self, sample):
        return True

@hookimpl
def register_filters(register):
    register(Mine)
"""


def test_entry_point_named_like_a_builtin_cannot_shadow_it(site, project):
    _install(site, "ra-shadow", "filters", SHADOW)
    res = run(["plugins", "list"], plugin_env(site), project)
    assert res.returncode == 0, res.stderr
    blocks = _blocks(res.stdout)
    assert len(_builtin_filters()) >= 7
    assert _provides(blocks["filters"]) == _builtin_filters()  # all seven built-ins stay
    assert "[ra-shadow 0.1]" in blocks["ra-shadow:filters"]
    assert _provides(blocks["ra-shadow:filters"]) == {"filter mine"}


CLASH = """
from regionadapt.components import Filter
from regionadapt.hookspecs import hookimpl

class Region(Filter):
    name = "region"

@hookimpl
def register_filters(register):
    register(Region)
"""


def test_two_distributions_with_one_component_name_fail_naming_both(site, project):
    _install(site, "ra-clash", "clash", CLASH)
    res = run(["filter"], plugin_env(site), project)
    assert res.returncode == 2
    assert (
        "filter 'region' is registered twice: by plugin 'filters' (regionadapt) and by "
        "plugin 'clash' (ra-clash)"
    ) in res.stderr
    _no_traceback(res)


def test_strict_plugins_turns_a_plugin_failure_into_an_error(site, project):
    _install(site, "ra-bad-filters", "bad_filters", RAISING_FILTERS)
    env = plugin_env(site)
    res = run(["--strict-plugins", "filter"], env, project)
    assert res.returncode == 2, res.stderr
    assert (
        res.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "plugin 'bad_filters' (ra-bad-filters) failed in register_filters: RuntimeError: "
            "filter registry exploded (strict plugins)"
        )
    )
    # The same from the project file, for CI.
    config = project / "regionadapt.toml"
    config.write_text("strict_plugins = true\n" + config.read_text())
    _install(site, "ra-quitter", "quitter", "import sys\nsys.exit(3)\n")
    res = run(["collect"], env, project)
    assert res.returncode == 2, res.stderr
    assert "error: strict plugins: plugin 'quitter' (ra-quitter) failed to load" in res.stderr
    assert not (project / "runs").exists()


# -- packs ----------------------------------------------------------------------------------------

PACKS_PLUGIN = """
from regionadapt.hookspecs import hookimpl

@hookimpl
def register_region_packs(register):
    for path in {paths!r}:
        register(path)
"""


def test_one_bad_pack_never_hides_the_others(site, project, tmp_path):
    from core_kit import ANDES_PACK

    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "syntax.toml").write_text("schema = 1\nid = [unclosed\n")
    (packs / "andes.toml").write_text(ANDES_PACK)
    sea = (Path(__file__).resolve().parents[1] / "regions" / "sea.toml").read_text()
    (packs / "sea.toml").write_text(sea)
    paths = [str(packs / n) for n in ("syntax.toml", "missing.toml", "sea.toml", "andes.toml")]
    _install(site, "ra-packs", "more_packs", PACKS_PLUGIN.format(paths=paths))
    env = plugin_env(site)
    res = run(["regions", "list"], env, project)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    sea = [x for x in lines if x.startswith("sea ") and " INVALID " not in x]
    assert len(sea) == 1 and "regions/sea.toml" in sea[0]  # the built-in wins
    assert any(x.startswith("andes ") and "countries=3" in x for x in lines)
    invalid = [x for x in lines if " INVALID " in x]
    assert len(invalid) == 3, res.stdout
    assert any(f"{packs / 'syntax.toml'}: not valid TOML" in x for x in invalid)
    assert any(f"{packs / 'missing.toml'}: file not found" in x for x in invalid)
    dup = next(x for x in invalid if x.startswith("sea "))
    assert "id 'sea' is already provided by plugin 'region_packs' (regionadapt)" in dup
    assert str(packs / "sea.toml") in dup and "plugin 'more_packs' (ra-packs)" in dup
    # init works for the built-in and for the good third-party pack.
    for region in ("sea", "andes"):
        out = tmp_path / f"init-{region}"
        out.mkdir()
        res = run(["init", "--region", region], env, out)
        assert res.returncode == 0, res.stderr
        assert (out / "regionadapt.toml").is_file()


# -- interrupts ---------------------------------------------------------------------------------


def _assert_interrupted(res, sig: str, stage: str, run_dir: Path) -> None:
    assert res.returncode == 130, (res.returncode, res.stderr)
    last = res.stderr.strip().splitlines()[-1]
    assert last == (
        f"interrupted ({sig}): stage {stage!r} stopped, its partial output removed; finished "
        "stages are kept; run the same command again to resume"
    )
    _no_traceback(res)
    leftovers = [p.name for p in run_dir.rglob(".tmp-*")]
    assert leftovers == [], leftovers
    rec = json.loads((run_dir / "manifest.json").read_text())["stages"].get(stage)
    assert rec is None or rec["status"] == "failed"


def test_sigint_and_sigterm_at_each_stage_exit_130_naming_it(site, project, tmp_path):
    env = plugin_env(site)
    run_dir = project / "runs" / "testland-embedding"
    mark = tmp_path / "mark"
    for stage in STAGES:
        for sig in ("SIGINT", "SIGTERM"):
            res = interrupt_at(stage, SIGNALS[sig], ["adapt"], env, project, mark)
            _assert_interrupted(res, sig, stage, run_dir)
    res = run(["adapt"], env, project)  # and the run resumes to the end
    assert res.returncode == 0, res.stderr
    assert "collect: up to date" in res.stderr and "merge: up to date" in res.stderr


def test_interrupt_outside_any_stage_and_typer_exit_codes(site, project, tmp_path):
    # A command a plugin adds: typer.Exit(3) must end as status 3, and Ctrl-C in a command that
    # runs no stage still exits 130 (typer returns 130 instead of raising: it used to exit 0).
    cmds = """
import os, time
from pathlib import Path
import typer
from regionadapt.hookspecs import hookimpl

@hookimpl
def register_commands(cli):
    @cli.command("fails-with-3")
    def fails():
        raise typer.Exit(3)

    @cli.command("waits")
    def waits():
        Path(os.environ["RA_FAULT_MARK"]).write_text("x")
        time.sleep(60)
"""
    _install(site, "ra-cmds", "cmds", cmds)
    env = plugin_env(site)
    assert run(["fails-with-3"], env, project).returncode == 3
    mark = tmp_path / "mark"
    proc = subprocess.Popen(
        [*cli_command(), "waits"], cwd=project, env={**env, "RA_FAULT_MARK": str(mark)},
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    while not mark.exists():
        assert proc.poll() is None, proc.stderr.read()
    proc.send_signal(SIGNALS["SIGINT"])
    err = proc.communicate(timeout=30)[1]
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == (
        "interrupted (SIGINT): `regionadapt waits` stopped, no stage was running; nothing "
        "half-written is kept"
    )


def test_sigterm_during_a_standalone_merge_leaves_no_temporary(site, tmp_path):
    import numpy as np
    from safetensors.numpy import save_file

    for name, value in (("a", 0.0), ("b", 1.0)):
        (tmp_path / name).mkdir()
        state = {"w": np.full((4,), value, np.float32)}
        save_file(state, str(tmp_path / name / "model.safetensors"))
    (tmp_path / "merge.toml").write_text(
        'method = "fault-slow-mean"\noutput = "merged"\nworkers = 1\n'
        '[[models]]\npath = "a"\n[[models]]\npath = "b"\n'
    )
    args = ["merge", "--config", "merge.toml"]
    env = plugin_env(site)
    res = interrupt_at("standalone-merge", SIGNALS["SIGTERM"], args, env, tmp_path, tmp_path / "m")
    assert res.returncode == 130, res.stderr
    assert res.stderr.strip().splitlines()[-1] == (
        "interrupted (SIGTERM): `regionadapt merge` stopped, no stage was running; nothing "
        "half-written is kept"
    )
    _no_traceback(res)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert not (tmp_path / "merged").exists()


def test_tracebacks_only_with_debug(site, project):
    buggy = """
from regionadapt.hookspecs import hookimpl

@hookimpl
def register_commands(cli):
    @cli.command("buggy")
    def buggy():
        {}["missing"]
"""
    _install(site, "ra-buggy", "buggy", buggy)
    env = plugin_env(site)
    res = run(["buggy"], env, project)
    assert res.returncode == 1
    assert res.stderr.splitlines() == [
        "error: unexpected KeyError: 'missing'",
        "(run again with --debug for the traceback)",
    ]
    res = run(["--debug", "buggy"], env, project)
    assert res.returncode == 1
    assert "Traceback (most recent call last)" in res.stderr
    assert res.stderr.strip().splitlines()[-1] == "error: unexpected KeyError: 'missing'"


# -- run folder and disk ------------------------------------------------------------------------


def _can_mount() -> str:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return "needs root and unshare to mount a tmpfs"
    res = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "mount", "-t", "tmpfs", "tmpfs", "/mnt"],
        capture_output=True,
    )
    return "" if res.returncode == 0 else f"cannot mount a tmpfs here: {res.stderr.decode()}"


MOUNT_SKIP = _can_mount()
needs_mount = pytest.mark.skipif(bool(MOUNT_SKIP), reason=MOUNT_SKIP or "ok")


def _in_namespace(script: str, env: dict[str, str], cwd: Path, timeout: float = 180):
    """Run a shell script in a private mount namespace (its mounts die with it)."""
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-ec", script],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@needs_mount
def test_read_only_run_folder_serves_up_to_date_stages_and_names_the_folder(site, project):
    env = plugin_env(site)
    cli = " ".join(cli_command())
    disk = project / "disk"
    disk.mkdir()
    script = f"""
mount -t tmpfs -o size=64m tmpfs {disk}
{cli} collect --run-dir {disk}/run > /dev/null 2>&1
mount -o remount,ro {disk}
echo "== up to date"
{cli} collect --run-dir {disk}/run || echo "rc=$?"
echo "== not up to date"
{cli} filter --run-dir {disk}/run || echo "rc=$?"
"""
    res = _in_namespace(script, env, project)
    up, stale = res.stdout.split("== not up to date")
    assert "rc=" not in up, res.stderr
    assert "collect: up to date, skipped" in res.stderr
    assert "rc=2" in stale
    line = next(x for x in res.stderr.splitlines() if x.startswith("error:"))
    assert line.startswith(
        f"error: cannot start: Read-only file system in stage 'filter': {disk}/run/.tmp-filter-"
    )
    assert line.endswith("(the file system is read-only; use a writable run folder)")
    assert res.stderr.count("error:") == 1  # no clean-up error chained on top
    _no_traceback(res)


@needs_mount
def test_full_disk_is_refused_before_the_stage_naming_path_and_stage(site, project):
    env = plugin_env(site)
    cli = " ".join(cli_command())
    disk = project / "disk"
    disk.mkdir()
    script = f"""
mount -t tmpfs -o size=8m tmpfs {disk}
{cli} collect --run-dir {disk}/run || echo "rc=$?"
"""
    res = _in_namespace(script, env, project)
    assert "rc=2" in res.stdout, res.stderr
    assert "error: cannot start stage 'collect': only" in res.stderr
    assert f"MiB free on {disk}/run, 16.0 MiB needed" in res.stderr
    _no_traceback(res)


@needs_mount
def test_disk_full_during_a_stage_names_path_and_stage(site, project):
    # The check before the stage passes (the floor is lowered); the tune output then does not
    # fit: one line naming the stage and the folder it was writing, status 1.
    env = plugin_env(site, REGIONADAPT_MIN_FREE_MB="0.1", RA_FAULT_BIG_MB="40")
    cli = " ".join(cli_command())
    disk = project / "disk"
    disk.mkdir()
    script = f"""
mount -t tmpfs -o size=32m tmpfs {disk}
{cli} adapt --run-dir {disk}/run || echo "rc=$?"
ls -a {disk}/run
"""
    res = _in_namespace(script, env, project)
    assert "rc=1" in res.stdout, res.stdout + res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("error: No space left on device in stage 'tune': ")
    assert f"{disk}/run/.tmp-tune-" in last and last.endswith(
        "(free some space or point run_root at a bigger disk)"
    )
    assert ".tmp-tune" not in res.stdout  # removed on the way out


@needs_mount
def test_disk_full_during_a_stage_prints_no_traceback(site, project):
    env = plugin_env(site, REGIONADAPT_MIN_FREE_MB="0.1", RA_FAULT_BIG_MB="40")
    cli = " ".join(cli_command())
    disk = project / "disk"
    disk.mkdir()
    script = f"""
mount -t tmpfs -o size=32m tmpfs {disk}
{cli} adapt --run-dir {disk}/run || true
"""
    _no_traceback(_in_namespace(script, env, project))


# -- file names ---------------------------------------------------------------------------------


def test_non_utf8_file_name_is_skipped_with_a_reason_not_a_crash(site, tmp_path):
    from data_kit import image_bytes

    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "ok.jpg").write_bytes(image_bytes(fmt="JPEG"))
    (photos / "ok.txt").write_text("a good caption")
    with open(os.path.join(os.fsencode(photos), b"caf\xe9.jpg"), "wb") as fh:
        fh.write(image_bytes(fmt="JPEG"))
    with open(os.path.join(os.fsencode(photos), b"caf\xe9.txt"), "wb") as fh:
        fh.write(b"a caption")
    project = write_project(
        tmp_path / "p",
        collector="files",
        collector_params=f'params = {{ path = "{photos}", lang = "eng", country = "AA" }}',
    ).parent
    res = run(["collect"], plugin_env(site), project)
    assert res.returncode == 0, res.stderr
    stats = json.loads((project / "runs/testland-embedding/collect/stats.json").read_text())
    (src,) = stats["sources"].values()
    assert (src["read"], src["written"], src["reasons"]) == (2, 1, {"undecodable-path": 1})
    assert src["examples"]["undecodable-path"] == [
        "undecodable-path (caf\\xe9.jpg): file name is not UTF-8"
    ]
    _no_traceback(res)

"""Plugins: discovery through real entry points (a dist-info on sys.path, exactly what pip
leaves behind), broken and clashing plugins, observer hooks, and the docs' example plugin."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from core_kit import builtin_plugin_names, demo_project, run_cli, write_dist

from regionadapt import plugins
from regionadapt.components import Context, build
from regionadapt.errors import PluginError, StageError
from regionadapt.hookspecs import hookimpl
from regionadapt.lifecycle import run_stage
from regionadapt.packs import get_pack
from regionadapt.schema import tomllib

EXAMPLE_DIR = (
    Path(__file__).resolve().parents[1] / "docs" / "examples" / "regionadapt_example_plugin"
)

SHOUT_PLUGIN = """
from regionadapt.components import Filter
from regionadapt.hookspecs import hookimpl


class Shout(Filter):
    name = "shout"
    description = "keeps upper-case captions"

    def keep(self, sample):
        return sample["text"].isupper() or (False, "not-shouting")


@hookimpl
def register_filters(register):
    register(Shout)
"""

BROKEN_PLUGIN = """
raise ImportError("needs libfoo, which is not installed")
"""

CLASHING_PLUGIN = """
from regionadapt.components import Filter
from regionadapt.hookspecs import hookimpl


class AnotherRegion(Filter):
    name = "region"

    def keep(self, sample):
        return True


@hookimpl
def register_filters(register):
    register(AnotherRegion)
"""


class Site:
    """A folder on sys.path into which tests 'pip install' small distributions."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.monkeypatch = monkeypatch
        self.names: list[str] = []
        self.modules: list[str] = []

    def install(self, dist: str, entry_points: dict[str, str], files: dict[str, str]) -> None:
        write_dist(self.root, dist, entry_points, files)
        self.names += list(entry_points)
        self.modules += [Path(f).stem for f in files]
        # Only the built-ins and what this test installed: nothing else on the machine leaks in.
        self.monkeypatch.setenv(plugins.ONLY_ENV, ",".join(builtin_plugin_names() + self.names))
        importlib.invalidate_caches()
        plugins.reset()

    def env(self) -> dict[str, str | None]:
        """The environment a subprocess needs to see the same plugins."""
        return {
            "PYTHONPATH": str(self.root),
            plugins.ONLY_ENV: os.environ[plugins.ONLY_ENV],
            plugins.BUILTIN_ONLY_ENV: None,
        }


@pytest.fixture
def site(tmp_path, monkeypatch):
    root = tmp_path / "site-packages"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delenv(plugins.BUILTIN_ONLY_ENV, raising=False)
    s = Site(root, monkeypatch)
    yield s
    plugins.reset()  # the next test loads the entry points afresh, without this site
    for mod in s.modules:
        sys.modules.pop(mod, None)


def test_entry_point_plugin_is_discovered(site):
    site.install(
        "regionadapt-shout", {"shout": "ra_test_shout"}, {"ra_test_shout.py": SHOUT_PLUGIN}
    )
    eps = {ep.name: ep for ep in importlib.metadata.entry_points(group="regionadapt")}
    assert eps["shout"].value == "ra_test_shout"

    reg = plugins.registry("filters")
    assert reg.owner("shout") == "shout"
    assert "region" in reg  # the built-ins are still there
    f = build("filters", "shout")
    assert f.keep({"text": "NASI LEMAK"}) is True
    assert f.keep({"text": "nasi lemak"}) == (False, "not-shouting")
    info = {i.name: i for i in plugins.plugin_infos()}["shout"]
    assert (info.dist, info.version, info.error) == ("regionadapt-shout", "0.1", None)
    assert info.hooks == ["register_filters"]

    res = run_cli("plugins", "list", env=site.env())
    assert res.returncode == 0, res.stderr
    block = res.stdout.split("shout  [", 1)[1]
    assert block.startswith("regionadapt-shout 0.1]  from ra_test_shout")
    assert "hooks: register_filters" in block and "provides: filter shout" in block


def test_builtin_only_keeps_third_party_plugins_out(site, monkeypatch):
    site.install(
        "regionadapt-shout", {"shout": "ra_test_shout"}, {"ra_test_shout.py": SHOUT_PLUGIN}
    )
    monkeypatch.setenv(plugins.BUILTIN_ONLY_ENV, "1")
    plugins.reset()
    assert "shout" not in plugins.registry("filters")
    assert "region" in plugins.registry("filters")


def test_broken_plugin_is_reported_and_skipped(site, capsys):
    site.install(
        "regionadapt-broken", {"broken": "ra_test_broken"}, {"ra_test_broken.py": BROKEN_PLUGIN}
    )
    site.install(
        "regionadapt-shout", {"shout": "ra_test_shout"}, {"ra_test_shout.py": SHOUT_PLUGIN}
    )
    reg = plugins.registry("filters")
    err = capsys.readouterr().err
    assert (
        "plugin 'broken' (regionadapt-broken, ra_test_broken) failed to load and was skipped" in err
    )
    assert "needs libfoo" in err
    assert "shout" in reg and "region" in reg  # the others load regardless
    info = {i.name: i for i in plugins.plugin_infos()}["broken"]
    assert info.error == "ImportError: needs libfoo, which is not installed"

    res = run_cli("regions", "list", env=site.env())
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("sea ")
    assert "plugin 'broken'" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("plugins", "list", env=site.env())
    assert res.returncode == 0
    assert "FAILED TO LOAD (skipped): ImportError: needs libfoo" in res.stdout


def test_duplicate_name_fails_naming_both_plugins(site):
    site.install(
        "regionadapt-clash", {"clash": "ra_test_clash"}, {"ra_test_clash.py": CLASHING_PLUGIN}
    )
    with pytest.raises(PluginError) as err:
        plugins.registry("filters")
    message = str(err.value)
    assert "filter 'region' is registered twice" in message
    assert "plugin 'filters'" in message and "plugin 'clash'" in message
    # Other kinds are unaffected: the CLI still lists packs.
    assert "sea" in plugins.registry("region_packs")
    res = run_cli("regions", "list", env=site.env())
    assert res.returncode == 0 and res.stdout.startswith("sea ")


def test_duplicate_in_process_plugin_fails_too():
    class Again:
        @hookimpl
        def register_merge_methods(self, register):
            from regionadapt_plugins.merge_methods.linear import Linear

            register(Linear)

    plugins.register_plugin(Again(), name="again")
    try:
        with pytest.raises(PluginError, match="'linear' is registered twice") as err:
            plugins.registry("merge_methods")
        assert "plugin 'merge_methods'" in str(err.value)
        assert "plugin 'again'" in str(err.value)
    finally:
        plugins.unregister_plugin("again")
    assert "linear" in plugins.registry("merge_methods")


def test_unknown_name_lists_the_valid_choices():
    with pytest.raises(PluginError) as err:
        plugins.registry("merge_methods").get("lerp")
    names = sorted(plugins.registry("merge_methods").names())
    assert str(err.value) == f"unknown merge method 'lerp'; valid choices: {', '.join(names)}"
    with pytest.raises(PluginError, match="unknown filter 'regoin'; valid choices: .*region"):
        build("filters", "regoin")
    with pytest.raises(ValueError, match="unknown component kind 'filter'"):
        plugins.registry("filter")


def test_reset_unloads_entry_point_plugins(site):
    site.install(
        "regionadapt-shout", {"shout": "ra_test_shout"}, {"ra_test_shout.py": SHOUT_PLUGIN}
    )
    assert "shout" in plugins.registry("filters")
    site.monkeypatch.setenv(plugins.ONLY_ENV, ",".join(builtin_plugin_names()))
    plugins.reset()
    assert plugins.pm.get_plugin("shout") is None
    assert "shout" not in plugins.registry("filters")
    assert "shout" not in {i.name for i in plugins.plugin_infos()}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    @hookimpl
    def stage_started(self, stage, run):
        self.events.append(("started", stage, run.root))

    @hookimpl
    def stage_finished(self, stage, run, record):
        self.events.append(("finished", stage, record.status, record.error))


@pytest.fixture
def recorder():
    rec = Recorder()
    plugins.register_plugin(rec, name="recorder")
    yield rec
    plugins.unregister_plugin("recorder")


def test_observer_hooks_see_each_stage_run(tmp_path, recorder):
    project = demo_project(tmp_path)

    def collect(tmp: Path) -> dict:
        (tmp / "out.txt").write_text("data")
        return {"n": 1}

    assert run_stage(project, "collect", collect) == {"n": 1}
    assert recorder.events == [
        ("started", "collect", project.run.root),
        ("finished", "collect", "done", ""),
    ]
    # Up to date: skipped, and observers are not told it ran.
    assert run_stage(project, "collect", collect) == {"n": 1}
    assert len(recorder.events) == 2

    def broken(tmp: Path) -> dict:
        raise StageError("no data")

    with pytest.raises(StageError, match="no data"):
        run_stage(project, "filter", broken)
    assert recorder.events[2:] == [
        ("started", "filter", project.run.root),
        ("finished", "filter", "failed", "StageError: no data"),
    ]


def test_hooks_of_an_in_process_plugin_are_listed(recorder):
    info = {i.name: i for i in plugins.plugin_infos()}["recorder"]
    assert info.hooks == ["stage_finished", "stage_started"]


def _install_example(site: Site) -> None:
    meta = tomllib.loads((EXAMPLE_DIR / "pyproject.toml").read_text(encoding="utf-8"))
    eps = meta["project"]["entry-points"]["regionadapt"]
    module = "regionadapt_example_plugin.py"
    site.install(
        meta["project"]["name"], eps, {module: (EXAMPLE_DIR / module).read_text(encoding="utf-8")}
    )


def test_docs_example_plugin_works_through_its_entry_point(site, tmp_path):
    _install_example(site)
    info = {i.name: i for i in plugins.plugin_infos()}["example"]
    assert info.error is None and info.dist == "regionadapt-example-plugin"
    assert info.hooks == [
        "register_commands",
        "register_filters",
        "stage_finished",
        "stage_started",
    ]

    f = build("filters", "min-caption-words", {"min_words": 2})
    f.setup(Context(pack=get_pack("sea")))
    assert f.keep({"text": "bánh mì", "lang": "vie"}) is True
    assert f.keep({"text": "phở", "lang": "vie"}) == (False, "too-few-words: 1 < 2")

    project = demo_project(tmp_path / "project")
    run_stage(project, "collect", lambda tmp: {})
    log = [json.loads(x) for x in (project.run.root / "stage-log.jsonl").read_text().splitlines()]
    assert [(x["event"], x["stage"], x.get("status")) for x in log] == [
        ("started", "collect", None),
        ("finished", "collect", "done"),
    ]
    res = run_cli("stage-log", str(project.run.root), env=site.env())
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["collect", "started", "collect", "finished", "done"]


def test_docs_example_plugin_own_tests_pass(site, tmp_path):
    _install_example(site)
    work = tmp_path / "example"
    shutil.copytree(
        EXAMPLE_DIR, work, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache")
    )
    env = {k: v for k, v in os.environ.items() if k != plugins.BUILTIN_ONLY_ENV}
    env.update({k: v for k, v in site.env().items() if v is not None})
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "6 passed" in res.stdout.splitlines()[-1]

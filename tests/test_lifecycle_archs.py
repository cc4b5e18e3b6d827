"""A second architecture from a third-party plugin runs the whole lifecycle, `init` included.

The plugin (tests/fixtures/plugins/fake_painter.py) is installed as a distribution with an
entry point, exactly as `pip install regionadapt-<something>` would, and driven through the
real CLI: nothing in the core knows it.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from core_kit import TESTLAND_PACK, run_cli, write_dist

from regionadapt.config import load_config

PLUGIN = Path(__file__).parent / "fixtures" / "plugins" / "fake_painter.py"

PACK = (
    TESTLAND_PACK
    + """[[benchmarks]]
id = "paint-local"
name = "Local paintings"
hub_id = "org/paint-local"
role = "regional"
task = "text-to-image"
metric = "score"
archs = ["t2i"]
[[benchmarks]]
id = "paint-world"
name = "World paintings"
hub_id = "org/paint-world"
role = "global"
task = "text-to-image"
metric = "score"
archs = ["t2i"]
"""
)


def expected_grp(b: float) -> float:
    return 0.5 * (1 - (b - 0.3) ** 2) + 0.5 * b


@pytest.fixture
def installed(tmp_path):
    site = tmp_path / "site"
    write_dist(
        site,
        "regionadapt-fake-painter",
        {"fake_painter": "fake_painter"},
        {"fake_painter.py": PLUGIN.read_text()},
    )
    env = {
        "PYTHONPATH": str(site),
        "REGIONADAPT_BUILTIN_ONLY": None,
        "REGIONADAPT_PLUGINS": "fake_painter,merge_methods",
    }
    (tmp_path / "pack.toml").write_text(PACK)
    return tmp_path, env


def _own_data(config: Path) -> None:
    """Point the written project at the plugin's collector and drop the image filters."""
    text = config.read_text()
    text = re.sub(
        r"\[\[collect\.sources\]\]\n.*?\n(?=\n)",
        '[[collect.sources]]\ncollector = "fake-painter-collector"\n',
        text,
        count=1,
        flags=re.S,
    )
    text = re.sub(r"\n\[\[filter\.steps\]\]\n(?:[^\[\n][^\n]*\n)*", "\n", text)
    config.write_text(text)


def test_a_plugin_architecture_runs_init_and_adapt(installed):
    root, env = installed
    res = run_cli("init", "--region", "pack.toml", "--model", "fake-painter:0", cwd=root, env=env)
    assert res.returncode == 0, res.stderr
    assert "t2i" in res.stdout  # recognised from the model id, no --arch needed
    cfg = load_config(root / "regionadapt.toml")
    assert cfg.configured() == ["t2i"]
    t2i = cfg.t2i
    assert t2i.model.backend == "fake-painter" and t2i.model.params["model"] == "fake-painter:0"
    assert t2i.tune == {"target": 1.0}  # the backend's TuneParams defaults
    assert t2i.merge.grid == [0.25, 0.5, 0.75]
    assert {(b.name, b.role, b.evaluator) for b in t2i.evaluate.benchmarks} == {
        ("paint-local", "regional", "fake-painter-eval"),
        ("paint-world", "global", "fake-painter-eval"),
    }
    _own_data(root / "regionadapt.toml")
    res = run_cli("adapt", cwd=root, env=env, timeout=300)  # the one arch configured
    assert res.returncode == 0, res.stderr
    results = json.loads((root / "runs" / "testland-t2i" / "evaluate" / "results.json").read_text())
    assert results["arch"] == "t2i" and results["chosen_b"] == 0.75
    m = results["models"]
    for label, b in (("base", 0.0), ("tuned", 1.0), ("b=0.25", 0.25), ("b=0.5", 0.5)):
        assert m[label]["grp"] == pytest.approx(expected_grp(b))
        assert m[label]["ci"]["grp"][0] <= m[label]["grp"] <= m[label]["ci"]["grp"][1]
    choice = results["choice"]
    assert choice["runner_up"] == 0.5
    assert choice["grp_margin"] == pytest.approx(expected_grp(0.75) - expected_grp(0.5))


def test_adapt_without_arch_names_the_configured_ones(installed, tmp_path):
    root, env = installed
    config = root / "regionadapt.toml"
    res = run_cli("init", "--region", "pack.toml", "--model", "fake-painter:0", cwd=root, env=env)
    assert res.returncode == 0, res.stderr
    text = config.read_text()
    config.write_text(text + text[text.index("\n# ====") :].replace("[t2i", "[lvlm"))
    res = run_cli("adapt", cwd=root, env=env)
    assert res.returncode == 2
    assert "configures t2i, lvlm: pass --arch t2i or --arch lvlm" in res.stderr


def test_the_in_memory_sweep_scores_as_the_written_merge(installed, monkeypatch):
    """interpolate (the adapter at scale b) and the linear merge on disk give equal curves."""
    root, env = installed
    res = run_cli("init", "--region", "pack.toml", "--model", "fake-painter:0", cwd=root, env=env)
    assert res.returncode == 0, res.stderr
    _own_data(root / "regionadapt.toml")
    monkeypatch.syspath_prepend(str(PLUGIN.parent))
    import fake_painter

    from regionadapt.lifecycle import open_project, run_stages
    from regionadapt.plugins import register_plugin, unregister_plugin

    register_plugin(fake_painter, "fake-painter-test")
    try:
        curves = []
        for in_memory in (True, False):
            if not in_memory:
                monkeypatch.setattr(fake_painter.FakePainter, "interpolate", lambda *a: None)
            shutil.rmtree(root / "runs", ignore_errors=True)
            fake_painter.LOADS.clear()
            project = open_project(root / "regionadapt.toml")
            run_stages(project, ["collect", "filter", "tune", "merge"])
            curve = json.loads((project.run.stage_dir("merge") / "curve.json").read_text())
            curves.append([(p["b"], p["grp"]) for p in curve["points"]])
            # in memory: only base and tuned are loaded from disk; else every candidate too
            assert len(fake_painter.LOADS) == (2 if in_memory else 5)
        assert curves[0] == pytest.approx(curves[1])
    finally:
        unregister_plugin("fake-painter-test")
        sys.modules.pop("fake_painter", None)


def test_kept_candidates_are_written_even_when_the_sweep_could_run_in_memory(
    installed, monkeypatch
):
    root, env = installed
    res = run_cli("init", "--region", "pack.toml", "--model", "fake-painter:0", cwd=root, env=env)
    assert res.returncode == 0, res.stderr
    _own_data(root / "regionadapt.toml")
    config = root / "regionadapt.toml"
    config.write_text(
        config.read_text().replace("keep_candidates = false", "keep_candidates = true")
    )
    monkeypatch.syspath_prepend(str(PLUGIN.parent))
    import fake_painter

    from regionadapt.lifecycle import open_project, run_stages
    from regionadapt.plugins import register_plugin, unregister_plugin

    register_plugin(fake_painter, "fake-painter-test")
    try:
        project = open_project(config)
        run_stages(project, ["collect", "filter", "tune", "merge"])
        kept = sorted(p.name for p in (project.run.stage_dir("merge") / "candidates").iterdir())
        assert kept == ["b=0.25", "b=0.5"]  # the chosen b=0.75 became merge/model
        assert (project.run.stage_dir("merge") / "model" / "unet.safetensors").is_file()
    finally:
        unregister_plugin("fake-painter-test")
        sys.modules.pop("fake_painter", None)

"""The lifecycle on fake components: stage order, skipping, --force, b selection, results.

The fake backend's "model" is one safetensors tensor ``w``; tuning moves it from 0 to 1 and the
fake evaluators score it as regional = w, global = 1 - (w - 0.3)^2 clipped, so the right merge
ratio is known in closed form. The merge itself is the real linear merge engine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from core_kit import TESTLAND_PACK

from regionadapt.components import Backend, Collector, EvalResult, Evaluator, Filter
from regionadapt.errors import ConfigError, StageError
from regionadapt.hookspecs import hookimpl
from regionadapt.lifecycle import choose, open_project, run_stages
from regionadapt.plugins import register_plugin, unregister_plugin
from regionadapt.samples import new_sample
from regionadapt.schema import Strict


class FakeModelParams(Strict):
    model: str = "zero"


class FakeTuneParams(Strict):
    target: float = 1.0


def _write_w(path: Path, value: float) -> None:
    import torch
    from safetensors.torch import save_file

    path.mkdir(parents=True, exist_ok=True)
    save_file({"w": torch.tensor([value], dtype=torch.float32)}, str(path / "model.safetensors"))


def _read_w(path: Path) -> float:
    from safetensors.torch import load_file

    return float(load_file(str(path / "model.safetensors"))["w"][0])


class FakeBackend(Backend):
    name = "fake-backend"
    arch = "embedding"
    ModelParams = FakeModelParams
    TuneParams = FakeTuneParams
    calls: list[str] = []

    def prepare_base(self, ctx, model, out_dir):
        FakeBackend.calls.append("prepare_base")
        _write_w(out_dir, 0.0)

    def tune(self, ctx, params, base_dir, train_data, out_dir):
        import datasets

        FakeBackend.calls.append("tune")
        n = len(datasets.load_from_disk(str(train_data)))
        _write_w(out_dir, params.target)
        return {"samples": n}

    def load(self, ckpt_dir):
        return _read_w(ckpt_dir)


class FakePainter(FakeBackend):
    name = "fake-backend-t2i"
    arch = "t2i"


class FakeChat(FakeBackend):
    name = "fake-backend-lvlm"
    arch = "lvlm"


BACKEND_OF = {"embedding": "fake-backend", "t2i": "fake-backend-t2i", "lvlm": "fake-backend-lvlm"}


class FakeCollector(Collector):
    name = "fake-collector"

    def collect(self, ctx):
        for i, country in enumerate(["AA", "AA", "ZZ", "AA"]):
            yield new_sample(
                id=f"s{i}", text=f"caption {i}", country=country, lang="eng", source="fake"
            )


class OnlyAA(Filter):
    name = "fake-only-aa"

    def keep(self, sample):
        return True if sample["country"] == "AA" else (False, "not-aa: elsewhere")


class EvalParams(Strict):
    role: str


class FakeEvaluator(Evaluator):
    name = "fake-eval"
    archs = ("embedding", "t2i", "lvlm")
    Params = EvalParams

    def evaluate(self, model, ctx, split):
        w = float(model)
        score = w if self.params.role == "regional" else max(0.0, 1.0 - (w - 0.3) ** 2)
        return EvalResult(score=score, n=10, groups={"country": {"AA": {"score": score, "n": 10}}})


class FakePlugin:
    @hookimpl
    def register_backends(self, register):
        register(FakeBackend)
        register(FakePainter)
        register(FakeChat)

    @hookimpl
    def register_collectors(self, register):
        register(FakeCollector)

    @hookimpl
    def register_filters(self, register):
        register(OnlyAA)

    @hookimpl
    def register_evaluators(self, register):
        register(FakeEvaluator)


PACK = TESTLAND_PACK

CONFIG = """
region = "pack.toml"
seed = 0
[[collect.sources]]
collector = "fake-collector"
[[filter.steps]]
filter = "fake-only-aa"
[embedding.model]
backend = "fake-backend"
[embedding.tune]
target = 1.0
[embedding.merge]
grid = [0.25, 0.5, 0.75]
min_global_retention = {retention}
[[embedding.evaluate.benchmarks]]
name = "r"
role = "regional"
evaluator = "fake-eval"
params = {{ role = "regional" }}
[[embedding.evaluate.benchmarks]]
name = "g"
role = "global"
evaluator = "fake-eval"
params = {{ role = "global" }}
"""


@pytest.fixture
def project_dir(tmp_path):
    register_plugin(FakePlugin(), "fake-plugin")
    FakeBackend.calls.clear()
    (tmp_path / "pack.toml").write_text(PACK)
    (tmp_path / "regionadapt.toml").write_text(CONFIG.format(retention=0.0))
    yield tmp_path
    unregister_plugin("fake-plugin")


def expected_grp(b: float) -> float:
    return 0.5 * (1 - (b - 0.3) ** 2) + 0.5 * b


@pytest.mark.parametrize("arch", ["embedding", "t2i", "lvlm"])
def test_full_lifecycle_chooses_best_grp_and_records_everything(project_dir, arch):
    config = project_dir / "regionadapt.toml"
    config.write_text(
        config.read_text()
        .replace("[embedding.", f"[{arch}.")
        .replace("[[embedding.", f"[[{arch}.")
        .replace('"fake-backend"', f'"{BACKEND_OF[arch]}"')
    )
    project = open_project(config)  # the one arch configured
    assert project.arch == arch
    run_stages(project, ["collect", "filter", "tune", "merge", "evaluate"])
    run = project.run
    assert [s for s in run.manifest()] == ["collect", "filter", "tune", "merge", "evaluate"]
    assert (run.root / "config.toml").read_text() == (project_dir / "regionadapt.toml").read_text()
    assert (run.root / "pack.toml").read_text() == PACK
    resolved = json.loads((run.root / "resolved.json").read_text())
    assert resolved["tune"] == {"target": 1.0} and resolved["pack"]["a"] == 0.5
    assert json.loads((run.stage_dir("filter") / "stats.json").read_text())["kept"] == 3
    assert run.record("tune").summary["training"]["samples"] == 3
    results = json.loads((run.stage_dir("evaluate") / "results.json").read_text())
    best = max([0.25, 0.5, 0.75], key=expected_grp)
    assert results["chosen_b"] == best == 0.75
    # the merged weight is the real linear merge of tuned (1.0) and base (0.0)
    assert _read_w(run.stage_dir("merge") / "model") == pytest.approx(best)
    m = results["models"]
    assert m["tuned"]["grp"] == pytest.approx(expected_grp(1.0))
    assert m["b=0.5"]["grp"] == pytest.approx(expected_grp(0.5))
    assert results["summary"]["regional_gain"] == pytest.approx(best)
    assert (run.stage_dir("evaluate") / "report.md").read_text().count("<- chosen") == 1
    assert (run.stage_dir("evaluate") / "grp_curve.png").stat().st_size > 1000


def test_rerun_skips_finished_stages_and_force_reruns_from_a_stage(project_dir):
    path = project_dir / "regionadapt.toml"
    run_stages(open_project(path, "embedding"), ["collect", "filter", "tune", "merge", "evaluate"])
    assert FakeBackend.calls == ["prepare_base", "tune"]
    run_stages(open_project(path, "embedding"), ["collect", "filter", "tune", "merge", "evaluate"])
    assert FakeBackend.calls == ["prepare_base", "tune"]  # nothing redone
    run_stages(
        open_project(path, "embedding"),
        ["collect", "filter", "tune", "merge", "evaluate"],
        force_from="tune",
    )
    assert FakeBackend.calls == ["prepare_base", "tune"] * 2


def test_changed_config_reruns_the_affected_stage_and_the_ones_after(project_dir):
    path = project_dir / "regionadapt.toml"
    project = open_project(path, "embedding")
    run_stages(project, ["collect", "filter", "tune", "merge", "evaluate"])
    before = {s: r.output_hash for s, r in project.run.manifest().items()}
    path.write_text(path.read_text().replace("target = 1.0", "target = 0.8"))
    project = open_project(path, "embedding")
    run_stages(project, ["collect", "filter", "tune", "merge", "evaluate"])
    after = {s: r.output_hash for s, r in project.run.manifest().items()}
    assert before["collect"] == after["collect"] and before["filter"] == after["filter"]
    assert before["tune"] != after["tune"]
    assert _read_w(project.run.stage_dir("tune") / "tuned") == pytest.approx(0.8)


def test_min_global_retention_constrains_the_choice(project_dir):
    path = project_dir / "regionadapt.toml"
    path.write_text(CONFIG.format(retention=0.9))
    project = open_project(path, "embedding")
    run_stages(project, ["collect", "filter", "tune", "merge"])
    curve = json.loads((project.run.stage_dir("merge") / "curve.json").read_text())
    base_global = curve["base"]["global"]
    assert curve["chosen_b"] == 0.5  # 0.75 keeps only (1-0.45^2)/0.91 = 88% of global
    assert all(
        p["global"] / base_global >= 0.9 for p in curve["points"] if p["b"] <= curve["chosen_b"]
    )


def test_a_stage_needs_its_inputs(project_dir):
    project = open_project(project_dir / "regionadapt.toml", "embedding")
    with pytest.raises(StageError, match="'filter' has not finished"):
        run_stages(project, ["tune"])
    assert project.run.record("tune").status == "failed"
    assert not project.run.stage_dir("tune").exists()


def test_choose_refuses_when_no_ratio_keeps_enough_global():
    points = [{"b": 0.5, "grp": 0.7, "global": 0.5}]
    with pytest.raises(StageError, match="no merge ratio keeps 98%"):
        choose(points, base_global=0.9, min_retention=0.98)


def test_bad_plugin_params_fail_before_any_work(project_dir):
    path = project_dir / "regionadapt.toml"
    path.write_text(path.read_text().replace("target = 1.0", "target = 1.0\nsteps = 3"))
    with pytest.raises(ConfigError, match=r"\[embedding.tune\].*steps"):
        open_project(path, "embedding")
    assert not (project_dir / "runs").exists()


def test_a_later_stage_reading_a_saved_dataset_does_not_make_it_stale(project_dir):
    """datasets writes cache-*.arrow files beside a dataset it maps over: not an output change."""
    path = project_dir / "regionadapt.toml"
    project = open_project(path, "embedding")
    run_stages(project, ["collect", "filter"])
    (project.run.stage_dir("collect") / "dataset" / "cache-0123456789abcdef.arrow").write_bytes(
        b"x"
    )
    assert project.run.is_current("collect", project.input_hash("collect"))
    (project.run.stage_dir("collect") / "stats.json").write_text("{}")
    assert not project.run.is_current("collect", project.input_hash("collect"))


def test_report_has_per_group_plots_and_can_be_rendered_again(project_dir):
    from regionadapt.report import load_results, write_report

    project = open_project(project_dir / "regionadapt.toml", "embedding")
    run_stages(project, ["collect", "filter", "tune", "merge", "evaluate"])
    results = load_results(project.run.root)
    # the fake evaluators report one country: a single group gets no chart
    assert not list(project.run.stage_dir("evaluate").glob("groups_*.png"))
    for label in results["models"]:
        for bench in results["models"][label]["benchmarks"].values():
            bench["groups"]["lang"] = {
                "eng": {"score": 0.5, "n": 3},
                "tha": {"score": 0.25, "n": 4},
            }
    out = project_dir / "again"
    out.mkdir()
    md = write_report(results, out).read_text()
    assert (
        "![r by lang](groups_r_lang.png)" in md
        and (out / "groups_r_lang.png").stat().st_size > 1000
    )
    assert "| tha | 0.250 | 0.250 | 0.250 | 4 |" in md


def test_unknown_backend_names_the_config_key(project_dir):
    path = project_dir / "regionadapt.toml"
    path.write_text(path.read_text().replace('backend = "fake-backend"', 'backend = "fake-bakend"'))
    with pytest.raises(
        ConfigError,
        match=r"regionadapt.toml: embedding.model.backend: unknown backend 'fake-bakend'.*fake-backend",
    ):
        open_project(path, "embedding")


def test_a_report_only_benchmark_is_scored_but_does_not_choose_b(project_dir):
    path = project_dir / "regionadapt.toml"
    path.write_text(
        path.read_text() + '\n[[embedding.evaluate.benchmarks]]\nname = "watch"\nrole = "report"\n'
        'evaluator = "fake-eval"\nparams = { role = "global" }\n'
    )
    project = open_project(path, "embedding")
    run_stages(project, ["collect", "filter", "tune", "merge", "evaluate"])
    results = json.loads((project.run.stage_dir("evaluate") / "results.json").read_text())
    assert results["chosen_b"] == 0.75  # as without it
    for label, b in (("base", 0.0), ("b=0.5", 0.5)):
        m = results["models"][label]
        assert m["benchmarks"]["watch"]["role"] == "report"
        assert m["benchmarks"]["watch"]["score"] == pytest.approx(1 - (b - 0.3) ** 2)
        assert m["grp"] == pytest.approx(expected_grp(b))


def test_a_method_without_per_model_weights_sweeps_b_through_its_own_parameter(project_dir):
    """SLERP in the project sweep: b is its t (from base at 0 to tuned at 1), recorded."""
    path = project_dir / "regionadapt.toml"
    path.write_text(
        path.read_text().replace("[embedding.merge]\n", '[embedding.merge]\nmethod = "slerp"\n')
    )
    project = open_project(path, "embedding")
    run_stages(project, ["collect", "filter", "tune", "merge"])
    curve = json.loads((project.run.stage_dir("merge") / "curve.json").read_text())
    assert curve["ratio_mapping"].startswith("t = b")
    w = {p["b"]: p["regional"] for p in curve["points"]}  # the fake regional score is w itself
    assert 0.0 < w[0.25] < w[0.5] < w[0.75] < 1.0  # t moves the merge from base to tuned
    chosen = max(curve["points"], key=lambda p: p["grp"])
    assert curve["chosen_b"] == chosen["b"]
    assert _read_w(project.run.stage_dir("merge") / "model") == pytest.approx(chosen["regional"])


def test_a_method_the_sweep_cannot_drive_is_refused_when_the_project_opens(project_dir):
    path = project_dir / "regionadapt.toml"
    path.write_text(
        path.read_text().replace("[embedding.merge]\n", '[embedding.merge]\nmethod = "soup"\n')
    )
    with pytest.raises(ConfigError, match="embedding.merge"):
        open_project(path, "embedding")
    assert not (project_dir / "runs").exists()


def test_choose_without_a_retention_floor_works_when_the_base_scores_zero_global():
    points = [{"b": 0.5, "grp": 0.2, "global": 0.0}, {"b": 0.75, "grp": 0.3, "global": 0.1}]
    assert choose(points, base_global=0.0, min_retention=0.0)["b"] == 0.75

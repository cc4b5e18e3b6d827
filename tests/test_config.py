"""regionadapt.toml: what `init` writes loads; every bad config names the file and the key.

All of it is checked by ``open_project`` before any stage runs or any run folder exists.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from core_kit import ANDES_PACK, run_cli, write_andes

from regionadapt.config import CONFIG_NAME, load_config
from regionadapt.errors import ConfigError, PackError, PluginError
from regionadapt.lifecycle import open_project


@pytest.fixture(scope="module")
def demo_config(tmp_path_factory) -> str:
    """The text `regionadapt init --region sea` writes (one subprocess per module)."""
    d = tmp_path_factory.mktemp("init")
    res = run_cli("init", "--region", "sea", cwd=d)
    assert res.returncode == 0, res.stderr
    return (d / CONFIG_NAME).read_text(encoding="utf-8")


def _write(tmp_path: Path, text: str, name: str = CONFIG_NAME) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _mutate(text: str, old: str, new: str) -> str:
    assert old in text, old  # the mutation must really change the config
    return text.replace(old, new, 1)


def test_init_output_loads_and_opens(tmp_path, demo_config):
    path = _write(tmp_path, demo_config)
    cfg = load_config(path)
    assert cfg.region == "sea"
    assert cfg.embedding is not None and cfg.t2i is None
    from regionadapt_plugins.demo_world.sources import embedding

    assert cfg.embedding.merge.grid == list(embedding().merge_grid)  # the demo source's grid
    project = open_project(path, "embedding")
    assert project.pack.id == "sea"
    assert project.tune_params.lr > 0
    assert [f.name for f in project.components["filters"]] == ["quality", "region"]
    assert not (tmp_path / "runs").exists()  # opening validates; it creates nothing


def test_init_with_a_real_model_writes_the_paper_recipe(tmp_path):
    res = run_cli(
        "init", "--region", "sea", "--model", "hf-hub:timm/ViT-SO400M-14-SigLIP2", cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    cfg = load_config(tmp_path / CONFIG_NAME)
    emb = cfg.embedding
    assert emb.model.source == "params"
    assert emb.model.params["model"] == "hf-hub:timm/ViT-SO400M-14-SigLIP2"
    # The tune table is the backend's TuneParams defaults (the paper's recipe), every key written.
    from regionadapt_plugins.openclip_backend.params import TuneParams

    assert set(emb.tune) == {k for k, f in TuneParams.model_fields.items() if f.default is not None}
    assert emb.tune["lr"] == 5e-6 and emb.tune["batch_size"] == 128 and emb.tune["epochs"] == 2
    # The pack's embedding benchmarks become the evaluate table, both roles present.
    roles = {b.name: b.role for b in emb.evaluate.benchmarks}
    assert roles["sea-vqa"] == "regional" and roles["cvqa"] == "global"


def test_init_with_a_t2i_pipeline_writes_benchmarks_that_need_no_download(tmp_path):
    """A real text-to-image model gets a regional (lexicon prompts) and a global (shipped
    dense prompts) benchmark written active: the config opens and scores without data sets."""
    folder = tmp_path / "sdxl"
    folder.mkdir()
    (folder / "model_index.json").write_text('{"_class_name": "StableDiffusionXLPipeline"}')
    res = run_cli("init", "--region", "sea", "--arch", "t2i", "--model", str(folder), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    text = (tmp_path / CONFIG_NAME).read_text(encoding="utf-8")
    assert "# SEA lexicon prompts: prompts generated from the pack's lexicon" in text
    assert "the real DPG-Bench needs its VQA judge" in text
    cfg = load_config(tmp_path / CONFIG_NAME)
    got = {b.name: (b.role, b.evaluator, b.params) for b in cfg.t2i.evaluate.benchmarks}
    assert got == {
        "sea-lexicon-prompts": ("regional", "clip-score", {"prompts": "lexicon"}),
        "dpg-bench": ("global", "clip-score", {"prompts": "global"}),
    }
    project = open_project(tmp_path / CONFIG_NAME, "t2i")
    assert set(project.components["evaluators"]) == {"sea-lexicon-prompts", "dpg-bench"}


def test_init_refuses_to_overwrite_without_force(tmp_path):
    path = _write(tmp_path, "# my own edits\n")
    res = run_cli("init", "--region", "sea", cwd=tmp_path)
    assert res.returncode == 2
    assert "already exists" in res.stderr and "--force" in res.stderr
    assert path.read_text() == "# my own edits\n"
    res = run_cli("init", "--region", "sea", "--force", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert load_config(path).region == "sea"


def test_init_refuses_a_malformed_pack_and_writes_nothing(tmp_path):
    write_andes(tmp_path, "bad.toml", ANDES_PACK.replace("schema = 1", "schema = 7"))
    res = run_cli("init", "--region", "./bad.toml", cwd=tmp_path)
    assert res.returncode == 2
    assert "bad.toml: schema: unsupported schema version 7" in res.stderr
    assert not (tmp_path / CONFIG_NAME).exists()


# (mutation of the init output, error class, substrings the message must contain)
BAD_CONFIGS = {
    "unknown-top-level-key": (("seed = 0", "sede = 0"), ConfigError, ["sede: unknown key"]),
    "unknown-nested-key": (
        ("workers = 1", "wokers = 1"),
        ConfigError,
        ["filter.wokers: unknown key"],
    ),
    "merge-grid-out-of-range": (
        ("grid = [0.1, 0.25, 0.5, 0.75, 0.9]", "grid = [0.25, 1.5]"),
        ConfigError,
        ["embedding.merge.grid", "must be in [0, 1]", "1.5"],
    ),
    "merge-grid-duplicates": (
        ("grid = [0.1, 0.25, 0.5, 0.75, 0.9]", "grid = [0.5, 0.5]"),
        ConfigError,
        ["embedding.merge.grid", "distinct"],
    ),
    "no-regional-benchmark": (
        ('role = "regional"', 'role = "global"'),
        ConfigError,
        ["embedding.evaluate.benchmarks", "role 'regional'"],
    ),
    "unknown-filter": (
        ('filter = "region"', 'filter = "regoin"'),
        PluginError,
        ["filter.steps[1]", "unknown filter 'regoin'", "valid choices:", "region", "quality"],
    ),
    "unknown-collector": (
        ('collector = "demo-world"', 'collector = "demo-wrld"'),
        PluginError,
        ["collect.sources[0]", "unknown collector 'demo-wrld'", "valid choices:", "demo-world"],
    ),
    "unknown-evaluator": (
        ('evaluator = "multiple-choice"', 'evaluator = "multi"'),
        PluginError,
        ["embedding.evaluate.benchmarks[0]", "unknown evaluator 'multi'", "multiple-choice"],
    ),
    "unknown-merge-method": (
        ('method = "linear"', 'method = "lerp"'),
        PluginError,
        ["embedding.merge", "unknown merge method 'lerp'", "valid choices:", "linear", "ties"],
    ),
    "bad-tune-param": (
        ("lr = 0.003", "lr = -1"),
        ConfigError,
        ["[embedding.tune]", "lr", "greater than 0"],
    ),
    "unknown-tune-param": (
        ("lr = 0.003", "learning_rate = 3e-3"),
        ConfigError,
        ["[embedding.tune]", "learning_rate: unknown key"],
    ),
    "bad-filter-param": (
        ('filter = "region"', 'filter = "region"\nparams = { require = "nope" }'),
        ConfigError,
        ["filter.steps[1].params", "require", "'either'", "'nope'"],
    ),
    "wrong-type": (("seed = 0", 'seed = "zero"'), ConfigError, ["seed", "integer", "'zero'"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_names_file_and_key(tmp_path, demo_config, case):
    (old, new), error, expected = BAD_CONFIGS[case]
    path = _write(tmp_path, _mutate(demo_config, old, new))
    with pytest.raises(error) as err:
        open_project(path, "embedding")
    message = str(err.value)
    assert message.startswith(str(path)), message
    for part in expected:
        assert part in message, (part, message)
    assert not (tmp_path / "runs").exists()


def test_arch_without_its_table_is_refused(tmp_path, demo_config):
    path = _write(tmp_path, demo_config)
    with pytest.raises(ConfigError, match=r"no \[t2i\] table; this project configures: embedding"):
        open_project(path, "t2i")
    with pytest.raises(ConfigError, match="unknown architecture 'video'; valid choices"):
        open_project(path, "video")
    res = run_cli("adapt", "--arch", "t2i", "-c", str(path))
    assert res.returncode == 2
    assert res.stderr.startswith(f"error: {path}: no [t2i] table")
    assert "Traceback" not in res.stderr


def test_missing_config_points_to_init(tmp_path):
    with pytest.raises(ConfigError, match="not found. Run `regionadapt init"):
        open_project(tmp_path / CONFIG_NAME, "embedding")


def test_config_toml_syntax_error_is_named(tmp_path, demo_config):
    path = _write(tmp_path, demo_config + "\n[broken\n")
    with pytest.raises(ConfigError, match=f"^{path}: not valid TOML"):
        open_project(path, "embedding")


def test_malformed_pack_fails_before_any_run_directory(tmp_path, demo_config):
    write_andes(tmp_path, "bad.toml", ANDES_PACK.replace('code = "EC"', 'code = "Ecuador"'))
    path = _write(tmp_path, _mutate(demo_config, 'region = "sea"', 'region = "bad.toml"'))
    with pytest.raises(PackError, match=r"bad.toml: countries\[2\].code"):
        open_project(path, "embedding")
    res = run_cli("collect", "-c", str(path))
    assert res.returncode == 2
    assert "countries[2].code" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "runs").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml", CONFIG_NAME]


def test_region_path_is_resolved_next_to_the_config(tmp_path, demo_config, monkeypatch):
    project_dir = tmp_path / "project"
    project_dir.mkdir()
    write_andes(project_dir)
    path = _write(project_dir, _mutate(demo_config, 'region = "sea"', 'region = "andes.toml"'))
    monkeypatch.chdir(tmp_path)  # not the config's folder
    assert open_project(path, "embedding").pack.id == "andes"

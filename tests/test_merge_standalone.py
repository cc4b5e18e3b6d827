"""`regionadapt merge --config merge.toml`: the TOML format and its errors."""

from __future__ import annotations

import pytest
import torch
from _merge_util import load_folder, random_state, save_sharded, save_single

from regionadapt.errors import ConfigError, MergeError
from regionadapt.merge.standalone import run_config

CONFIG = """
method = "ties"
dtype = "bfloat16"
output = "out/merged"
base = "models/base"
[params]
density = 0.5
[[models]]
path = "models/a"
weight = 0.7
[[models]]
path = "models/b"
weight = 0.3
"""


@pytest.fixture
def project(tmp_path):
    save_single(random_state(0), tmp_path / "models" / "base")
    save_single(random_state(1), tmp_path / "models" / "a")
    save_sharded(random_state(2), tmp_path / "models" / "b", 2)
    return tmp_path


def write(project, text):
    path = project / "merge.toml"
    path.write_text(text)
    return path


def test_run_config_merges_relative_to_config_file(project, monkeypatch, tmp_path_factory):
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    report = run_config(write(project, CONFIG))
    assert report.out == project / "out" / "merged"
    merged = load_folder(project / "out" / "merged")
    from regionadapt_plugins.merge_methods.task_vectors import Ties

    ties = Ties({"density": 0.5})
    sds = [random_state(s) for s in (0, 1, 2)]
    for k, v in merged.items():
        assert v.dtype == torch.bfloat16
        expected = ties.merge_tensor([sds[1][k], sds[2][k]], [0.7, 0.3], sds[0][k], k, None)
        assert torch.equal(v, expected.bfloat16())


CASES = [  # (replace this, with this, error, message)
    ('method = "ties"\n', "", ConfigError, r"merge.toml: method: required"),
    (
        'method = "ties"',
        'mystery = 1\nmethod = "ties"',
        ConfigError,
        r"merge.toml: mystery: unknown",
    ),
    ("weight = 0.3", 'weight = "x"', ConfigError, r"merge.toml: models\[1\]\.weight"),
    ("weight = 0.3\n", "", ConfigError, r"models\[1\]\.weight: give a weight for every"),
    ("[params]", "[paramz]", ConfigError, r"merge.toml: paramz: unknown key"),
    ("density = 0.5", "density = 2.0", MergeError, r"merge.toml: params: density: .* less than"),
    ('"ties"', '"tise"', MergeError, r"merge.toml: unknown merge method 'tise'; valid choices"),
    ("models/b", "models/nope", MergeError, r"merge.toml: .*nope: checkpoint not found"),
    ("weight = 0.3", "weight = -0.3", MergeError, r"merge.toml: .*weight 1 is negative"),
    ('dtype = "bfloat16"', 'dtype = "bf16"', MergeError, r"merge.toml: unknown output dtype"),
]


@pytest.mark.parametrize("old,new,error,message", CASES)
def test_config_errors_name_file_and_key(project, old, new, error, message):
    assert old in CONFIG
    with pytest.raises(error, match=message):
        run_config(write(project, CONFIG.replace(old, new)))
    assert not (project / "out").exists()


def test_not_toml(project):
    with pytest.raises(ConfigError, match="merge.toml: not valid TOML"):
        run_config(write(project, "method = \n"))

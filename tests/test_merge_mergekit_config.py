"""mergekit YAML configs run unchanged: the example-shaped fixtures run, equal mergekit's own
output (``mergekit-yaml`` on the same file), load with ``from_pretrained`` in the dtype they
were written in, and every unsupported key is refused by name before anything is written."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from _merge_util import load_any, tiny_llama, word_tokenizer

from regionadapt.errors import ConfigError, MergeError
from regionadapt.merge.standalone import run_mergekit_config

FIXTURES = Path(__file__).parent / "fixtures" / "mergekit"
RUNS = ["linear.yml", "ties.yml", "bio-merge.yml", "gradient-slerp.yml"]


def mergekit_yaml(*args: str) -> list[str]:
    """mergekit-yaml's entry point, run by this interpreter (where mergekit is installed)."""
    code = "import sys; from mergekit.scripts.run_yaml import main; sys.argv[0] = 'mergekit-yaml'; main()"
    return [sys.executable, "-c", code, *args]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("mk")
    base = tiny_llama(root / "models" / "base", seed=0)
    states = {"base": base}
    for i, name in enumerate("abc"):  # fine-tuned copies: base + a small delta
        folder = root / "models" / name
        tiny_llama(folder, seed=0)
        g = torch.Generator().manual_seed(i + 1)
        sd = {k: v + 0.05 * torch.randn(v.shape, generator=g) for k, v in base.items()}
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in sd.items()}, str(folder / "model.safetensors"),
                  metadata={"format": "pt"})  # fmt: skip
        states[name] = sd
    return root, states


def run_here(workspace, name, monkeypatch, text=None, out="out"):
    root, _ = workspace
    monkeypatch.chdir(root)
    cfg = root / name
    cfg.write_text(text if text is not None else (FIXTURES / name).read_text())
    shutil.rmtree(root / out, ignore_errors=True)
    return run_mergekit_config(cfg, root / out), root / out


@pytest.mark.parametrize("name", RUNS)
def test_example_configs_run_and_load_in_their_dtype(workspace, name, monkeypatch):
    transformers = pytest.importorskip("transformers")
    report, out = run_here(workspace, name, monkeypatch)
    assert report.tensors == len(workspace[1]["base"])
    model = transformers.AutoModelForCausalLM.from_pretrained(out)  # no dtype argument
    assert model.dtype == torch.float16
    assert json.loads((out / "config.json").read_text())["dtype"] == "float16"
    assert transformers.AutoTokenizer.from_pretrained(out)("nasi goreng")["input_ids"][-2:] == [
        3,
        4,
    ]


def test_per_model_ties_with_gradients_and_filters_follows_mergekit(workspace, monkeypatch):
    """ties.yml: per-model densities (one a gradient), a weight gradient and a filtered weight;
    checked tensor by tensor against mergekit's own method on the values its rules give."""
    mk = pytest.importorskip("mergekit.merge_methods")
    from mergekit.merge_methods.base import TensorGroup

    text = (FIXTURES / "ties.yml").read_text().replace("dtype: float16", "dtype: float32")
    _, out = run_here(workspace, "ties32.yml", monkeypatch, text)
    merged = load_any(out)
    states = workspace[1]

    def grad(values, t):
        s = t * (len(values) - 1)
        i0 = int(s)
        i1 = min(len(values) - 1, i0 + 1)
        return (1 - (s - i0)) * values[i0] + (s - i0) * values[i1]

    checked = 0
    for k, v in merged.items():
        layer = int(k.split(".")[2]) if ".layers." in k else None
        t = layer / 3 if layer is not None else 0.0
        density = [grad([1, 0.7, 0.1], t), 0.5, 0.33]
        weight = [1.0, grad([0, 0.3, 0.7, 1], t), 0.5 if "mlp" in k else 0.0]
        group = TensorGroup.from_tensors([states[m][k] for m in "abc"] + [states["base"][k]],
                                         base_index=3)  # fmt: skip
        ref = mk.get("ties")(
            [group], parameters={"weight": dict(enumerate(weight)),
                                 "density": dict(enumerate(density)), "normalize": True,
                                 "lambda": 1.0, "int8_mask": True, "rescale": False},
            dtype=torch.float32, out_dtype=torch.float32,
        )[0]  # fmt: skip
        assert torch.equal(v, ref), k
        checked += 1
    assert checked == len(states["base"])


@pytest.mark.parametrize("name", ["ties.yml", "linear.yml"])
def test_equals_mergekit_yaml_on_the_same_file(workspace, name, monkeypatch):
    """The same file through mergekit-yaml: bit-identical when mergekit computes in float32
    (dtype: float32, out_dtype: float16), the arithmetic regionadapt uses for half outputs."""
    root, _ = workspace
    text = (
        (FIXTURES / name)
        .read_text()
        .replace("dtype: float16", "dtype: float32\nout_dtype: float16")
    )
    _, out = run_here(workspace, "same-" + name, monkeypatch, text)
    theirs = root / ("mk-" + name)
    shutil.rmtree(theirs, ignore_errors=True)
    res = subprocess.run(mergekit_yaml(str(root / ("same-" + name)), str(theirs), "--no-write-model-card"), cwd=root,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    ours, ref = load_any(out), load_any(theirs)
    assert set(ours) == set(ref)
    for k in ref:
        assert ours[k].dtype == ref[k].dtype == torch.float16
        assert torch.equal(ours[k], ref[k]), k


@pytest.mark.parametrize(
    "name,message",
    [
        ("gradient-slerp-slices.yml", r"slices: layer slices .* not supported"),
        ("passthrough-slices.yml", r"slices: layer slices"),
        ("arcee-fusion.yml", r"merge_method: 'arcee_fusion' is not supported.*supported: linear"),
    ],
)
def test_unsupported_example_configs_refused_by_key(workspace, name, monkeypatch, message):
    with pytest.raises(ConfigError, match=message):
        run_here(workspace, name, monkeypatch)
    assert not (workspace[0] / "out").exists()


BIO = (FIXTURES / "bio-merge.yml").read_text()
REFUSALS = [  # (replace, with, error, message naming the key)
    ("int8_mask: true", "int8_mask: true\n  frobnicate: 1", ConfigError,
     r"parameters.frobnicate: not a parameter of ties"),
    ("      density: 0.5\n      weight: 0.5\n  - model: models/b",
     "      density: 0.5\n      normalize: true\n  - model: models/b", ConfigError,
     r"models\[0\].parameters.normalize: a shared parameter"),
    ("dtype: float16", "dtype: float16\ntokenizer: {source: union}", ConfigError,
     r"tokenizer: building a merged vocabulary"),
    ("dtype: float16", "dtype: float16\ntokenizer_source: union", ConfigError,
     r"tokenizer_source: 'union'"),
    ("dtype: float16", "dtype: float16\nchat_template: chatml", ConfigError, r"chat_template:"),
    ("dtype: float16", "dtype: float16\nmystery: 1", ConfigError, r"mystery: unknown key"),
    ("dtype: float16", "dtype: int4", ConfigError, r"dtype: 'int4': expected one of"),
    ("- model: models/b\n", "- model: models/b+some/lora\n", ConfigError, r"models\[1\].model: .*LoRA"),
    ("base_model: models/base\n", "", ConfigError, r"base_model: required by ties"),
    ("int8_mask: true", "rescale: true", ConfigError, r"parameters.rescale: TIES with an L1"),
    ("      density: 0.5\n      weight: 0.5\n  - model: models/b",
     "      density: 0.5\n  - model: models/b", MergeError,
     r"model 'models/a': parameters.weight: required by ties"),
    ("      density: 0.5\n      weight: 0.5\n  - model: models/b",
     "      density: 1.5\n      weight: 0.5\n  - model: models/b", MergeError,
     r"models\[0\] params of merge method 'ties': density: .*less than or equal to 1"),
    ("- model: models/b\n", "- model: models/nope\n", MergeError,
     r"model 'models/nope': not a local folder, and fetching it from the Hugging Face Hub failed"),
]  # fmt: skip


@pytest.mark.parametrize("old,new,error,message", REFUSALS)
def test_refusals_name_the_key(workspace, monkeypatch, old, new, error, message):
    assert old in BIO
    with pytest.raises(error, match=message):
        run_here(workspace, "bad.yml", monkeypatch, BIO.replace(old, new))
    assert not (workspace[0] / "out").exists()


def test_tokenizer_source_base(workspace, monkeypatch, tmp_path):
    """tokenizer_source: base copies the base model's tokenizer files; a different
    vocabulary (which mergekit would permute the embeddings for) is refused."""
    transformers = pytest.importorskip("transformers")
    root, _ = workspace
    text = BIO + "tokenizer_source: base\n"
    (root / "models" / "base" / "tokenizer_config.json").write_text(
        (root / "models" / "base" / "tokenizer_config.json").read_text()
    )
    _, out = run_here(workspace, "tok.yml", monkeypatch, text)
    assert transformers.AutoTokenizer.from_pretrained(out)("pho")["input_ids"][-1] == 5
    other = root / "models" / "other-vocab"
    shutil.copytree(root / "models" / "base", other, dirs_exist_ok=True)
    word_tokenizer(["soto", "ayam", "laksa"]).save_pretrained(other)
    with pytest.raises(
        MergeError, match="tokenizer_source: the vocabulary of .*other-vocab differs"
    ):
        run_here(workspace, "tok2.yml", monkeypatch, BIO + "tokenizer_source: models/other-vocab\n",
                 out="out2")  # fmt: skip


def test_cli_runs_a_mergekit_yaml(workspace):
    """``regionadapt merge --config merge.yaml --output OUT``, as ``mergekit-yaml`` takes it."""
    from core_kit import run_cli

    root, _ = workspace
    (root / "cli.yml").write_text((FIXTURES / "bio-merge.yml").read_text())
    shutil.rmtree(root / "cli-out", ignore_errors=True)
    res = run_cli("merge", "--config", "cli.yml", "--output", "cli-out", cwd=root, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("merged ") and (root / "cli-out" / "model.safetensors").exists()
    res = run_cli("merge", "--config", "cli.yml", cwd=root)
    assert res.returncode != 0 and "cli.yml: a mergekit config needs --output OUT" in res.stderr

"""Per-model method parameters (TOML ``[[models]]`` keys and ``model_params=``): TIES with a
density per model equals mergekit's TIES given the same per-model densities."""

from __future__ import annotations

import pytest
import torch
from _merge_util import load_folder, random_state, save_single

from regionadapt.errors import ConfigError, MergeError
from regionadapt.merge import merge_checkpoints
from regionadapt.merge.standalone import run_config

SHAPES = {"w1": (64, 48), "w2": (300,), "s": ()}


def related(n, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    base = {k: torch.randn(s, generator=g) for k, s in SHAPES.items()}
    tuned = [
        {k: (v + 0.1 * torch.randn(v.shape, generator=g)).to(dtype) for k, v in base.items()}
        for _ in range(n)
    ]
    return {k: v.to(dtype) for k, v in base.items()}, tuned


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_ties_density_per_model_equals_mergekit(tmp_path, dtype):
    mk = pytest.importorskip("mergekit.merge_methods")
    from mergekit.merge_methods.base import TensorGroup

    base, tuned = related(3, dtype=dtype)
    paths = [save_single(sd, tmp_path / f"m{i}") for i, sd in enumerate(tuned)]
    density, weight = [0.2, 0.5, 0.9], [1.0, 0.4, 0.7]
    out = tmp_path / "out"
    merge_checkpoints(
        "ties", paths, out, base=save_single(base, tmp_path / "base"), weights=weight,
        model_params=[{"density": d} for d in density],
    )  # fmt: skip
    merged = load_folder(out)
    for k in SHAPES:
        group = TensorGroup.from_tensors([t[k] for t in tuned] + [base[k]], base_index=3)
        ref = mk.get("ties")(
            [group], parameters={"weight": dict(enumerate(weight)),
                                 "density": dict(enumerate(density))},
            dtype=torch.float32, out_dtype=dtype,
        )[0]  # fmt: skip
        assert torch.equal(merged[k], ref), k
    # and the densities really differ per model: one shared density gives another result
    merge_checkpoints("ties", paths, tmp_path / "shared", base=tmp_path / "base",
                      weights=weight, params={"density": 0.5})  # fmt: skip
    assert not torch.equal(load_folder(tmp_path / "shared")["w1"], merged["w1"])


def test_toml_per_model_keys(tmp_path):
    base, tuned = related(2)
    for i, sd in enumerate(tuned):
        save_single(sd, tmp_path / f"m{i}")
    save_single(base, tmp_path / "base")
    text = """method = "ties"
output = "from-file"
base = "base"
[params]
density = 0.5
[[models]]
path = "m0"
weight = 1.0
density = 0.2
[[models]]
path = "m1"
weight = 0.5
"""
    cfg = tmp_path / "merge.toml"
    cfg.write_text(text)
    run_config(cfg, output=tmp_path / "cli-out")  # --output overrides the file's output
    assert not (tmp_path / "from-file").exists()
    merged = load_folder(tmp_path / "cli-out")
    expected = tmp_path / "expected"
    merge_checkpoints("ties", [tmp_path / "m0", tmp_path / "m1"], expected, base=tmp_path / "base",
                      weights=[1.0, 0.5], model_params=[{"density": 0.2}, {"density": 0.5}])  # fmt: skip
    for k, v in load_folder(expected).items():
        assert torch.equal(merged[k], v), k
    cfg.write_text(text.replace("density = 0.2", "densty = 0.2"))
    with pytest.raises(
        MergeError,
        match=r"merge.toml: models\[0\].densty: merge method 'ties' takes only density per model",
    ):
        run_config(cfg, output=tmp_path / "o2")
    cfg.write_text(text.replace("density = 0.2", "density = 7"))
    with pytest.raises(MergeError, match=r"models\[0\] params of merge method 'ties': density"):
        run_config(cfg, output=tmp_path / "o3")
    cfg.write_text(text.replace('output = "from-file"\n', ""))
    with pytest.raises(ConfigError, match="merge.toml: output: required"):
        run_config(cfg)


def test_methods_without_per_model_params_refuse_them(tmp_path):
    a, b = (save_single(random_state(s), tmp_path / f"m{s}") for s in (1, 2))
    with pytest.raises(MergeError, match="'linear' takes no per-model parameters"):
        merge_checkpoints("linear", [a, b], tmp_path / "o", model_params=[{"density": 0.5}, {}])
    with pytest.raises(MergeError, match=r"parameters for 1 model\(s\), 2 model\(s\) given"):
        merge_checkpoints("linear", [a, b], tmp_path / "o", model_params=[{}])
    assert not (tmp_path / "o").exists()


def test_dare_drop_rate_per_model(tmp_path):
    base, tuned = related(2)
    paths = [save_single(sd, tmp_path / f"m{i}") for i, sd in enumerate(tuned)]
    b = save_single(base, tmp_path / "base")
    merge_checkpoints("dare-linear", paths, tmp_path / "o", base=b, weights=[1.0, 1.0],
                      model_params=[{"drop_rate": 0.0}, {"drop_rate": 0.9}], seed=3)  # fmt: skip
    merged = load_folder(tmp_path / "o")["w1"]
    delta0 = tuned[0]["w1"] - base["w1"]
    rest = merged - base["w1"] - delta0  # model 1's dropped-and-rescaled delta
    kept = (rest != 0).float().mean().item()
    assert 0.05 < kept < 0.15  # about 10% of model 1's entries survive; all of model 0's

"""End to end through the real CLI: `init --region sea --arch t2i`, then `adapt --arch t2i` on
tiny settings (a tiny SD pipeline as the base, a tiny open_clip judge, a small demo pool), and
the outputs a user relies on: the result table for base, tuned and b, a merged pipeline that
diffusers loads, contact sheets and a rating sheet from the run's images.

The real demo base and judge take minutes to build; benchmarks/bench_adapt_t2i.py measures the
full demo. About 1-2 minutes on an idle 2-core machine.
"""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("diffusers")

import openclip_tiny  # noqa: E402
import t2i_tiny as T  # noqa: E402
from core_kit import run_cli  # noqa: E402


def _sub(pattern: str, new: str, text: str) -> str:
    out, n = re.subn(pattern, new, text, count=1, flags=re.M)
    assert n == 1, f"init's output changed: no match for {pattern!r}"
    return out


def _tiny(config, base: str, judge: str) -> None:
    t = config.read_text()
    t = _sub(r"^params = \{ regional_concepts = 24.*$", "params = { regional_concepts = 4, "
             "per_regional = 6, per_global = 2, per_distractor = 1, corrupt = 1 }", t)  # fmt: skip
    t = _sub(r'^source = "demo-world".*$', 'source = "params"', t)
    t = _sub(r"^params = \{\}.*$", f'params = {{ model = "{base}", resolution = 16, '
             "num_inference_steps = 2, guidance_scale = 2.0 }", t)  # fmt: skip
    for key, value in (("max_steps", 3), ("batch_size", 8), ("lora_r", 2), ("checkpoint_every", 2)):
        t = _sub(rf"^{key} = \d+", f"{key} = {value}", t)
    t = _sub(r"^grid = \[.*\]", "grid = [0.5]", t)
    for part in ("regional", "global"):
        t = _sub(rf'^params = \{{ part = "{part}", per_concept = \d+, metric = "r-precision" \}}',
                 f'params = {{ part = "{part}", per_concept = 1, regional_concepts = 4, '
                 f'metric = "r-precision", judge = "{judge}" }}', t)  # fmt: skip
    config.write_text(t)


def _judge(tmp_path) -> str:
    """A tiny open_clip judge whose random image and text embeddings are not anti-aligned.

    An untrained judge can put every image-text cosine below 0, which CLIPScore clamps to 0 for
    every model; then there is nothing to compare. Seeds are tried in order until the mean
    cosine on a few demo pictures is positive (a fixed, deterministic choice)."""
    import torch
    from regionadapt_plugins.demo_world.world import DemoWorld
    from regionadapt_plugins.openclip_backend import create_model, save_checkpoint
    from regionadapt_plugins.t2i_eval.clip_score import clip_scores

    rows = DemoWorld(pack=None).global_training_set(1)[:8]
    import io

    from PIL import Image

    images = [Image.open(io.BytesIO(r["image"])) for r in rows]
    for seed in range(20):
        torch.manual_seed(seed)
        model = create_model(openclip_tiny.tiny_cfg())
        if float(clip_scores(model, images, [r["text"] for r in rows]).min()) > 1.0:
            folder = tmp_path / f"judge-{seed}"
            save_checkpoint(model, folder)
            return str(folder)
    raise AssertionError("no tiny judge with positive cosines in 20 seeds")


def test_init_and_adapt_t2i_through_the_cli(tmp_path):
    env = {"REGIONADAPT_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    res = run_cli("init", "--region", "sea", "--arch", "t2i", cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr
    config = tmp_path / "regionadapt.toml"
    assert 'backend = "diffusers"' in config.read_text()
    base = T.tiny_base(tmp_path)["model"]
    judge = _judge(tmp_path)
    _tiny(config, base, judge)
    res = run_cli("adapt", "--arch", "t2i", cwd=tmp_path, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]
    run = tmp_path / "runs" / "sea-t2i"
    results = json.loads((run / "evaluate" / "results.json").read_text())
    assert results["arch"] == "t2i"
    models = results["models"]
    assert {"base", "tuned", "b=0.5"} <= set(models)
    for m in models.values():
        assert 0.0 <= m["regional"] <= 1.0 and 0.0 <= m["global"] <= 1.0
        bench = m["benchmarks"]["demo-t2i-regional"]
        assert len(bench["items"]) == bench["n"] == 4 and set(bench["items"]) <= {0.0, 1.0}
        assert bench["metrics"]["r_precision"] == bench["score"] and "clip_score" in bench["metrics"]
    manifest = json.loads((run / "manifest.json").read_text())
    training = manifest["stages"]["tune"]["summary"]["training"] if "stages" in manifest else None
    if training is not None:
        assert training["steps"] == 3 and training["method"] == "full"
    # The merged model is a complete pipeline folder that diffusers loads as it is.
    from diffusers import DiffusionPipeline

    model_dirs = [p.parent for p in (run / "merge").rglob("model_index.json")]
    assert model_dirs, sorted(str(p) for p in (run / "merge").rglob("*"))[:20]
    pipe = DiffusionPipeline.from_pretrained(str(model_dirs[0]))
    assert pipe.unet is not None and pipe.vae is not None
    sheets = list((run / "t2i-images").rglob("*-contact.png"))
    assert {p.name for p in sheets} >= {"demo-regional-contact.png", "demo-global-contact.png"}
    # pictures are filed under the table's labels: the chosen merge (loaded from merge/model)
    # under its b, not under its folder's name
    kept = {p.name for p in (run / "t2i-images" / "test" / "demo-regional").iterdir()}
    assert kept == set(models), (kept, set(models))
    res = run_cli("t2i-rating", "export", str(run), cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr
    assert (run / "rating" / "rating.html").is_file()
    assert not (run / "checkpoints" / "t2i-tune").exists()  # spent once the tune finished

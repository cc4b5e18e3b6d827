"""The chat-VLM job, for real: `regionadapt init --region sea --arch lvlm` + `regionadapt adapt
--arch lvlm` on the demo world, through the CLI, from an empty cache (the demo chat-VLM base is
pretrained too), then the merged model reloaded through transformers' Auto classes.

Slow by the suite's standards (2.6 minutes at load average 0.9, 3.7-4.6 at load 3-3.5 on 2 cores;
the merge grid is cut to two points). A 3-epoch cut was tried: the merged model then answered
a plain red picture with an empty reply, so the demo's recipe is kept. Only relative claims with wide margins: see docs/lvlm.md for the
measured spread.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("transformers")
pytest.importorskip("peft")

CLI = [sys.executable, "-m", "regionadapt"]


def _run(args, cwd, env, timeout=900):
    proc = subprocess.run(
        CLI + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def lvlm_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e-lvlm")
    env = {**os.environ, "REGIONADAPT_CACHE": str(work / "cache"), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}  # fmt: skip
    _run(["init", "--region", "sea", "--arch", "lvlm"], work, env)
    cfg = work / "regionadapt.toml"
    text = cfg.read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^grid = \[.*\]$", "grid = [0.5, 0.9]", text)
    assert n == 1
    cfg.write_text(text, encoding="utf-8")
    adapt = _run(["adapt", "--arch", "lvlm"], work, env)
    return work, env, adapt


def test_adapt_lvlm_gives_the_results_table(lvlm_run):
    work, _, adapt = lvlm_run
    out = adapt.stdout
    assert "DEMO WORLD" in out
    for row in ("| base |", "| tuned |", "| b=0.5 |", "| b=0.9 |", "<- chosen"):
        assert row in out
    results = json.loads((work / "runs/sea-lvlm/evaluate/results.json").read_text())
    m = results["models"]
    # Tuning teaches the regional names (the base is near chance, 0.25): tuned minus base was
    # +49 to +56 points on the test split over three seeds; asserted with a wide margin.
    assert m["tuned"]["regional"] > m["base"]["regional"] + 0.2
    assert m["base"]["global"] > 0.6  # the base knows the global part it was pretrained on
    bench = m["base"]["benchmarks"]["demo-regional"]
    assert bench["n"] > 100 and len(bench["items"]) == bench["n"] and "ci" in bench
    assert bench["metrics"]["length_normalised"] == 1.0
    assert "category" in bench["groups"] and "lang" in bench["groups"]
    # The report-only caption benchmark is scored for every model but stays out of GRP; the
    # tuned model's captions name the pictured regional entities (0.72-0.92 over three seeds),
    # the base's never (it never saw a regional name).
    caps = {k: v["benchmarks"]["demo-captions"] for k, v in m.items()}
    assert {c["role"] for c in caps.values()} == {"report"} and caps["base"]["n"] > 80
    assert caps["tuned"]["score"] > caps["base"]["score"] + 0.3
    for row in m.values():
        assert row["regional"] == row["benchmarks"]["demo-regional"]["score"]


def test_merged_model_reloads_through_transformers_and_answers(lvlm_run):
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    work, _, _ = lvlm_run
    model_dir = work / "runs/sea-lvlm/merge/model"
    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir).eval()
    assert processor.chat_template
    conv = [{"role": "user", "content": [{"type": "image"},
                                         {"type": "text", "text": "Describe this image."}]}]  # fmt: skip
    text = processor.apply_chat_template(conv, add_generation_prompt=True)
    inputs = processor(text=text, images=[Image.new("RGB", (32, 32), (200, 40, 40))],
                       return_tensors="pt", add_special_tokens=False)  # fmt: skip
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    reply = processor.tokenizer.decode(out[0, inputs["input_ids"].shape[1] :],
                                       skip_special_tokens=True)  # fmt: skip
    assert reply.strip()

"""The main job, for real: `regionadapt init --region sea` + `regionadapt adapt --arch embedding`
on the embedded default (the demo world), as a user runs it, from an empty cache.

Slow by the suite's standards (~2-3 minutes on 2 cores: the demo base model is pretrained from
scratch), and the one test that proves the README's first command works.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "regionadapt"]


def _run(args, cwd, env, timeout=900):
    proc = subprocess.run(
        CLI + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e")
    env = {**os.environ, "REGIONADAPT_CACHE": str(work / "cache")}
    _run(["init", "--region", "sea"], work, env)
    adapt = _run(["adapt", "--arch", "embedding"], work, env)
    return work, env, adapt


def test_adapt_prints_the_result_table_from_a_real_run(demo_run):
    work, _, adapt = demo_run
    out = adapt.stdout
    assert "DEMO WORLD" in out
    for row in ("| base |", "| tuned |", "| b=0.25 |", "| b=0.5 |", "| b=0.75 |", "<- chosen"):
        assert row in out
    assert "stage timings: collect" in out
    results = json.loads((work / "runs/sea-embedding/evaluate/results.json").read_text())
    s = results["summary"]
    m = results["models"]
    # The method works on the demo world: the regional score rises, the unmerged tuned model
    # loses global quality, and the chosen merge wins part of it back and beats both on GRP.
    # Only relative claims, with wide margins: CPU training differs from run to run and machine
    # to machine. Over five fresh runs with the non-saturating regional test (8 look-alike
    # candidates): tuned global 15-21 points under the base, the chosen merge (b = 0.5 three
    # times, 0.75 twice, each time within the noise of the runner-up) keeping 4-24 points more of
    # it than the tuned model (85-101% of the base's), GRP 0.016-0.078 above the tuned model's,
    # regional gain 61-70 points. Now that the regional side no longer saturates, the choice
    # can fall on a larger b, so the retention gain is asserted without a margin. 240 global
    # test items put one standard error near 2 points.
    assert s["regional_gain"] >= 0.3
    assert m["tuned"]["regional"] > m["base"]["regional"] + 0.3
    assert m["tuned"]["global"] < m["base"]["global"] - 0.06
    assert s["grp_chosen"] > s["grp_base"] and s["grp_chosen"] > s["grp_tuned"]
    assert s["global_retention"] > s["tuned_global_retention"]
    # The regional test does not saturate (8 look-alike candidates, unseen phrasings), so the
    # curve shows a trade-off on the regional side too; every pack language is asked. Over the
    # five runs the tuned model scored 0.71-0.80 regional, and 5-7 of the 7 models had distinct
    # regional scores (only b >= 0.75 sometimes ties with the tuned model; the saturated test
    # had 4, every b >= 0.5 at 0.99-1.00).
    assert max(v["regional"] for v in m.values()) < 0.97
    assert len({round(v["regional"], 3) for v in m.values()}) >= 5
    from regionadapt.packs import get_pack

    langs = m["base"]["benchmarks"]["demo-regional"]["groups"]["lang"]
    assert set(langs) == {lang.code for lang in get_pack("sea").languages}
    # numbers come from per-benchmark measurements on the test split
    assert m["base"]["benchmarks"]["demo-regional"]["n"] > 100
    assert results["report_split"] == "test" and results["selection_split"] == "validation"
    # the base model was built and cached once
    assert list((work / "cache" / "demo-world").glob("embedding-*/open_clip_model.safetensors"))


def test_second_adapt_resumes_without_redoing_work(demo_run):
    work, env, _ = demo_run
    again = _run(["adapt", "--arch", "embedding"], work, env, timeout=300)
    assert again.stderr.count("up to date, skipped") == 5


def test_report_and_explain(demo_run):
    work, env, _ = demo_run
    rep = _run(["report", "runs/sea-embedding"], work, env)
    assert "<- chosen" in rep.stdout
    written = rep.stdout.split("\nwrote ")[1]
    out = work / "runs/sea-embedding/report"
    assert sorted(written.split(": ", 1)[1].strip().split(", ")) == sorted(
        p.name for p in out.iterdir()
    )
    assert (out / "grp_curve.png").stat().st_size > 1000
    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == len(list(out.glob("*.png")))
    dropped = work / "runs/sea-embedding/filter"
    import datasets

    gone = datasets.load_from_disk(str(dropped / "dropped"))
    reasons = set(gone["reason"])
    assert any("country" in r for r in reasons) and any(
        "image" in r or "truncated" in r for r in reasons
    )
    sample = gone[0]["id"]
    why = _run(["filter", "--explain", sample], work, env)
    assert sample in why.stdout and "dropped" in why.stdout.lower()

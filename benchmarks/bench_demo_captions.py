"""Keyword accuracy of the chat-VLM demo's captions: base vs tuned vs the chosen merge.

Reads a finished lvlm run (``regionadapt init --arch lvlm && regionadapt adapt --arch lvlm``),
loads its three checkpoints through the project's backend and scores each with the
``caption-metrics`` evaluator on the ``demo-world-captions`` test split (pictures of the pack's
regional entities; a caption scores when it names the pictured entity in any surface form).
Prints keyword accuracy with its 95% bootstrap interval, chrF and the skip counts.

    python benchmarks/bench_demo_captions.py PROJECT_DIR [--per-concept 4] [--out result.json]

PROJECT_DIR holds regionadapt.toml and runs/. DEMO WORLD numbers: generated pictures and a
small model; they show the method, not real-model results.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    from regionadapt import metrics
    from regionadapt.components import build
    from regionadapt.lifecycle import open_project

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("project", type=Path)
    ap.add_argument("--per-concept", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--prompt", default=None, help="default: the demo base's caption prompt")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--details", type=Path, help="write each model's captions to DIR/<model>.jsonl")
    args = ap.parse_args()
    prompt = args.prompt or demo_prompt()
    project = open_project(args.project / "regionadapt.toml", "lvlm")
    run = project.run
    ckpts = {
        "base": run.stage_dir("tune") / "base",
        "tuned": run.stage_dir("tune") / "tuned",
        "merged": run.stage_dir("merge") / "model",
    }
    curve = json.loads((run.stage_dir("merge") / "curve.json").read_text())
    out: dict[str, dict] = {}
    for label, path in ckpts.items():
        ev = build("evaluators", "caption-metrics", {
            "dataset": "demo-world-captions", "dataset_params": {"per_concept": args.per_concept},
            "prompt": prompt, "max_new_tokens": args.max_new_tokens,
            "details": str(args.details / f"{label}.jsonl") if args.details else None,
        })  # fmt: skip
        t0 = time.perf_counter()
        model = project.backend.load(path)
        res = ev.evaluate(model, project.context(), "test")
        project.backend.unload(model)
        ci = metrics.interval(metrics.replicate_means(res.items, project.config.seed, label))
        chrf = {k: round(v, 2) for k, v in res.metrics.items() if k.startswith("chrf/")}
        out[label] = {"keyword_accuracy": res.score, "ci": ci, "n": res.n, "chrf": chrf,
                      "skipped": res.skipped, "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip
    print(f"{project.label}\nchosen b = {curve['chosen_b']:g}; demo-world-captions test split")
    for label, r in out.items():
        print(f"  {label:<7} keyword accuracy {r['keyword_accuracy']:.3f} "
              f"(95% CI {r['ci'][0]:.3f}-{r['ci'][1]:.3f}, n={r['n']})  {r['seconds']} s  "
              f"skipped {r['skipped']}")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps({"chosen_b": curve["chosen_b"], "models": out}, indent=2))


def demo_prompt() -> str:
    """The caption prompt the demo chat base was trained with (and its tuning reuses)."""
    try:
        from regionadapt_plugins.demo_world.lvlm_base import PROMPT
    except ImportError:  # the lvlm demo base not installed: the chat backend's default
        return "Describe this image."
    return PROMPT


if __name__ == "__main__":
    main()

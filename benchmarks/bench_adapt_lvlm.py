"""Wall time and result of the chat-VLM demo, first run included:

    regionadapt init --region sea --arch lvlm && regionadapt adapt --arch lvlm

from an empty cache (so the demo chat-VLM base is pretrained too), in a fresh folder. Prints the
results table, the report-only benchmarks (the demo's caption keyword accuracy) per model, the
total, each stage's time (from the run's manifest), the merge curve on the
validation split and whether the chosen ratio has the best GRP among base, tuned and merges.
Target (issue #8): under 10 minutes on a 2-core machine. The machine it runs on may be shared:
the load average before and after is printed with the timing.

    python benchmarks/bench_adapt_lvlm.py [--region sea] [--seed N] [--out result.json] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{' '.join(cmd[2:])} failed:\n{proc.stderr[-4000:]}")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--region", default="sea")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--keep", type=Path, help="run in this folder and keep it")
    ap.add_argument("--seed", type=int, default=0, help="the project seed (world, base, tuning)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "REGIONADAPT_CACHE": str(work / "cache"), "HF_HUB_OFFLINE": "1",
               "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}  # fmt: skip
        cli = [sys.executable, "-m", "regionadapt"]
        load0 = os.getloadavg()
        t0 = time.perf_counter()
        _run(cli + ["init", "--region", args.region, "--arch", "lvlm"], work, env)
        if args.seed:
            cfg = work / "regionadapt.toml"
            text = cfg.read_text(encoding="utf-8")
            cfg.write_text(re.sub(r"(?m)^seed = 0\b", f"seed = {args.seed}", text, count=1))
        t1 = time.perf_counter()
        _run(cli + ["adapt", "--arch", "lvlm"], work, env)
        t2 = time.perf_counter()
        load1 = os.getloadavg()
        run = work / "runs" / f"{args.region}-lvlm"
        manifest = json.loads((run / "manifest.json").read_text())["stages"]
        results = json.loads((run / "evaluate" / "results.json").read_text())
        curve = json.loads((run / "merge" / "curve.json").read_text())
        from regionadapt.report import table

        print(table(results))
        print(report_table(results))
    out = {
        "init_s": round(t1 - t0, 2),
        "adapt_s": round(t2 - t1, 2),
        "total_s": round(t2 - t0, 2),
        "stages_s": {s: rec["seconds"] for s, rec in manifest.items()},
        "summary": results["summary"],
        "curve": curve,
        "cpus": os.cpu_count(),
        "loadavg_before_after": [round(load0[0], 2), round(load1[0], 2)],
    }
    print(f"init + adapt: {out['total_s']:.1f} s (init {out['init_s']:.1f} s, adapt "
          f"{out['adapt_s']:.1f} s) on {out['cpus']} CPUs, load average {load0[0]:.1f} before, "
          f"{load1[0]:.1f} after")  # fmt: skip
    for stage, secs in out["stages_s"].items():
        print(f"  {stage:<9} {secs:7.1f} s")
    s = out["summary"]
    print(f"chosen b={s['chosen_b']:g}: regional gain {100 * s['regional_gain']:+.1f} pts, global "
          f"retention {100 * s['global_retention']:.1f}%, GRP base {s['grp_base']:.3f} / tuned "
          f"{s['grp_tuned']:.3f} / chosen {s['grp_chosen']:.3f}")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(out, indent=2))


def report_table(results: dict) -> str:
    """The report-only benchmarks (outside GRP: the demo's caption keyword accuracy) per model,
    on the report split, beside the VQA table."""
    names = sorted({n for m in results["models"].values() for n, b in m["benchmarks"].items()
                    if b["role"] == "report"})  # fmt: skip
    if not names:
        return ""
    lines = ["| model | " + " | ".join(f"{n} [95% CI]" for n in names) + " |",
             "|---|" + "---:|" * len(names)]  # fmt: skip
    for label, m in results["models"].items():
        cells = []
        for n in names:
            b = m["benchmarks"][n]
            ci = b.get("ci")
            cells.append(f"{b['score']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "report benchmarks (shown, outside GRP):\n" + "\n".join(lines)


if __name__ == "__main__":
    main()

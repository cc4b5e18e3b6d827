"""Wall time of the main job on the embedded default, first run included:

    regionadapt init --region sea && regionadapt adapt --arch embedding

from an empty cache (so the demo base model is pretrained too), in a fresh folder. Prints the
total, each stage's time (from the run's manifest) and the result summary; --out writes JSON.
Target (issue #2): under 5 minutes on a 2-core machine.

    python benchmarks/bench_adapt_demo.py [--region sea] [--out result.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--region", default="sea")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {**os.environ, "REGIONADAPT_CACHE": str(work / "cache"), "HF_HUB_OFFLINE": "1",
               "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}  # fmt: skip
        cli = [sys.executable, "-m", "regionadapt"]
        t0 = time.perf_counter()
        subprocess.run(
            cli + ["init", "--region", args.region],
            cwd=work,
            env=env,
            check=True,
            capture_output=True,
        )
        t1 = time.perf_counter()
        proc = subprocess.run(
            cli + ["adapt", "--arch", "embedding"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
        )
        t2 = time.perf_counter()
        if proc.returncode:
            sys.exit(f"adapt failed:\n{proc.stderr[-3000:]}")
        run = work / "runs" / f"{args.region}-embedding"
        manifest = json.loads((run / "manifest.json").read_text())["stages"]
        results = json.loads((run / "evaluate" / "results.json").read_text())
        from regionadapt.report import table

        print(table(results))
    out = {
        "init_s": round(t1 - t0, 2),
        "adapt_s": round(t2 - t1, 2),
        "total_s": round(t2 - t0, 2),
        "stages_s": {s: rec["seconds"] for s, rec in manifest.items()},
        "summary": results["summary"],
        "cpus": os.cpu_count(),
    }
    print(
        f"init + adapt: {out['total_s']:.1f} s (init {out['init_s']:.1f} s, adapt {out['adapt_s']:.1f} s) on {out['cpus']} CPUs"
    )
    for stage, secs in out["stages_s"].items():
        print(f"  {stage:<9} {secs:7.1f} s")
    s = out["summary"]
    print(f"chosen b={s['chosen_b']:g}: regional gain {100 * s['regional_gain']:+.1f} pts, global retention "
          f"{100 * s['global_retention']:.1f}%, GRP base {s['grp_base']:.3f} / tuned {s['grp_tuned']:.3f} / chosen {s['grp_chosen']:.3f}")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

"""Wall time and result of the text-to-image demo, the two commands a user runs:

    regionadapt init --region sea --arch t2i && regionadapt adapt --arch t2i

in a fresh project folder, from an empty cache (the demo base pipeline and the whole-world
judge are built too) or with a given cache (``--cache DIR``: built once, reused after). Prints
the result table (regional / global score, R-precision by the demo judge, and GRP for base,
tuned and each b), each stage's time from the run's manifest, how long the base and judge took
to build, and the machine's load average (the machine may be shared: read the times with it).
Targets (issue 15): 20 minutes from an empty cache, 10 minutes cached, on 2 CPU cores.

    python benchmarks/bench_adapt_t2i.py [--cache DIR] [--keep DIR] [--out result.json]
                                         [--tune-seed N]

``--tune-seed`` re-runs the method with another tune seed (LoRA init, batch order, noise and
timesteps) on the same base, judge and prompts: a confirming second seed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(cli: list[str], args: list[str], cwd: Path, env: dict) -> str:
    """Run a command, echoing its log lines as they come (progress and stage timings stay
    visible in a long run); return the whole log."""
    proc = subprocess.Popen(cli + args, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("[") or "GRP" in line:  # timestamped log lines, not progress bars
            print(line, end="", file=sys.stderr, flush=True)
    if proc.wait():
        sys.exit(f"{' '.join(args)} failed:\n{''.join(lines)[-4000:]}")
    return "".join(lines)


def _built(log: str) -> dict[str, float]:
    """Seconds the demo base / judge took to build, from the adapt log's timestamps."""
    import re

    marks = {}
    for line in log.splitlines():
        m = re.match(r"\[\s*([0-9.]+)s\] demo world: (t2i base cached|t2i judge cached|"
                     r"pretraining the text-to-image|training the t2i judge)", line)  # fmt: skip
        if m:
            marks[m.group(2)] = float(m.group(1))
    out = {}
    if "pretraining the text-to-image" in marks and "t2i base cached" in marks:
        out["base_s"] = marks["t2i base cached"] - marks["pretraining the text-to-image"]
    if "training the t2i judge" in marks and "t2i judge cached" in marks:
        out["judge_s"] = marks["t2i judge cached"] - marks["training the t2i judge"]
    return out


def _set_tune_seed(config: Path, seed: int) -> None:
    """Set ``seed`` in the [t2i.tune] table init wrote (checked by parsing it back)."""
    import re
    import tomllib

    text = config.read_text(encoding="utf-8")
    head = text.index("[t2i.tune]")
    end = text.find("\n[", head + 1)
    end = len(text) if end < 0 else end
    table, n = re.subn(r"(?m)^seed = \d+", f"seed = {seed}", text[head:end])
    if n != 1:
        sys.exit(f"{config}: expected one 'seed = ' line in [t2i.tune], found {n}")
    config.write_text(text[:head] + table + text[end:], encoding="utf-8")
    assert tomllib.loads(config.read_text(encoding="utf-8"))["t2i"]["tune"]["seed"] == seed


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--region", default="sea")
    ap.add_argument("--cache", type=Path, help="cache folder to use (default: a fresh, empty one)")
    ap.add_argument("--keep", type=Path, help="copy the run folder here (contact sheets...)")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--tune-seed", type=int, help="the [t2i.tune] seed (default: init's, 0)")
    args = ap.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cache = args.cache or work / "cache"
        env = {**os.environ, "REGIONADAPT_CACHE": str(cache), "HF_HUB_OFFLINE": "1",
               "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}  # fmt: skip
        cli = [sys.executable, "-m", "regionadapt"]
        t0 = time.perf_counter()
        _run(cli, ["init", "--region", args.region, "--arch", "t2i"], work, env)
        if args.tune_seed is not None:
            _set_tune_seed(work / "regionadapt.toml", args.tune_seed)
        t1 = time.perf_counter()
        log = _run(cli, ["adapt", "--arch", "t2i"], work, env)
        t2 = time.perf_counter()
        run = work / "runs" / f"{args.region}-t2i"
        manifest = json.loads((run / "manifest.json").read_text())["stages"]
        results = json.loads((run / "evaluate" / "results.json").read_text())
        from regionadapt.report import table

        print(table(results))
        if args.keep:
            shutil.copytree(run, args.keep, dirs_exist_ok=True)
    out = {
        "init_s": round(t1 - t0, 2),
        "adapt_s": round(t2 - t1, 2),
        "total_s": round(t2 - t0, 2),
        "stages_s": {s: rec["seconds"] for s, rec in manifest.items()},
        "built_s": _built(log),
        "models": {
            k: {r: v[r] for r in ("regional", "global", "grp")}
            for k, v in results["models"].items()
        },  # fmt: skip
        "chosen_b": results.get("chosen_b"),
        "cpus": os.cpu_count(),
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        "cache": "given" if args.cache else "empty",
        "tune_seed": args.tune_seed or 0,
    }
    print(f"init + adapt: {out['total_s']:.1f} s (init {out['init_s']:.1f} s, adapt "
          f"{out['adapt_s']:.1f} s) on {out['cpus']} CPUs, cache {out['cache']}, load average "
          f"{out['load_avg_before'][0]} -> {out['load_avg_after'][0]}")  # fmt: skip
    for stage, secs in out["stages_s"].items():
        print(f"  {stage:<9} {secs:7.1f} s")
    for what, secs in out["built_s"].items():
        print(f"  (built {what.removesuffix('_s')}: {secs:.1f} s)")
    if args.out:
        args.out.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

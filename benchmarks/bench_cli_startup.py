"""Wall time of short ``regionadapt`` commands, whole process, against ``import torch``.

    python benchmarks/bench_cli_startup.py                # 7 runs each, prints a table
    python benchmarks/bench_cli_startup.py -n 15 --out startup.json

Each command runs as a fresh subprocess (what a user waits for), only the built-in plugins
loaded; the median over N runs is reported with min and max. The first run of each command is
a discarded warm-up (page cache, .pyc files). ``python -c pass`` and ``import torch`` are the
floor and the cost the CLI avoids by importing heavy libraries only inside commands.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "regionadapt"
    return [str(script)] if script.exists() else [sys.executable, "-m", "regionadapt"]


def commands() -> dict[str, list[str]]:
    cli = _cli()
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "regionadapt --help": [*cli, "--help"],
        "regionadapt regions list": [*cli, "regions", "list"],
        "regionadapt regions show sea": [*cli, "regions", "show", "sea"],
        "regionadapt plugins list": [*cli, "plugins", "list"],
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
    }


def measure(argv: list[str], runs: int, env: dict[str, str]) -> list[float]:
    times = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        res = subprocess.run(argv, env=env, capture_output=True)
        elapsed = time.perf_counter() - t0
        if res.returncode != 0:
            raise SystemExit(
                f"{' '.join(argv)} failed ({res.returncode}): {res.stderr.decode()[-500:]}"
            )
        if i:  # the first run warms the caches
            times.append(elapsed)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=7, help="Timed runs per command.")
    parser.add_argument("--out", type=Path, help="Write the results as JSON here.")
    args = parser.parse_args()
    env = {**os.environ, "REGIONADAPT_BUILTIN_ONLY": "1"}
    rows = []
    for name, argv in commands().items():
        times = measure(argv, args.runs, env)
        rows.append(
            {
                "command": name,
                "median_s": statistics.median(times),
                "min_s": min(times),
                "max_s": max(times),
                "runs": len(times),
            }
        )
    width = max(len(r["command"]) for r in rows)
    print(f"{'command':<{width}}  median     min     max  (s, {args.runs} runs)")
    for r in rows:
        print(
            f"{r['command']:<{width}}  {r['median_s']:6.3f}  {r['min_s']:6.3f}  {r['max_s']:6.3f}"
        )
    if args.out:
        meta = {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_avg": os.getloadavg() if hasattr(os, "getloadavg") else None,
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        args.out.write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

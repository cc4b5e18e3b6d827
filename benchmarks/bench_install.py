"""Size and time of an install of this checkout into a fresh virtual environment.

    python benchmarks/bench_install.py                 # the light install: pip install -e .
    python benchmarks/bench_install.py --extras dev    # pip install -e ".[dev]"
    python benchmarks/bench_install.py --dry-run --extras dev   # package count only, no install

A new venv (no system site packages) and an empty pip cache each time, so downloads count;
prints the wall time, the number of installed distributions, the venv's size and its largest
folders. Takes minutes and several GB of disk: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extras", default="", help="comma-separated extras, e.g. dev")
    ap.add_argument("--dry-run", action="store_true", help="resolve only: count the packages")
    ap.add_argument("--keep", action="store_true", help="keep the venv (printed)")
    args = ap.parse_args()
    target = f"{ROOT}[{args.extras}]" if args.extras else str(ROOT)
    work = Path(tempfile.mkdtemp(prefix="regionadapt-install-"))
    venv, cache = work / "venv", work / "pip-cache"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--cache-dir", str(cache)]
    try:
        if args.dry_run:
            report = work / "report.json"
            cmd = [*pip, "install", "--dry-run", "--quiet", "--report", str(report), "-e", target]
            subprocess.run(cmd, check=True)
            print(f"{target}: {len(json.loads(report.read_text())['install'])} packages to install")
            return 0
        t0 = time.perf_counter()
        subprocess.run([*pip, "install", "--quiet", "-e", target], check=True)
        seconds = time.perf_counter() - t0
        freeze = subprocess.run([*pip, "list", "--format=json"], check=True, capture_output=True)
        site = next((venv / "lib").glob("python*/site-packages"))
        parts = sorted(((_size(p), p.name) for p in site.iterdir() if p.is_dir()), reverse=True)
        print(f"{target}: {len(json.loads(freeze.stdout))} packages, "
              f"{_size(venv) / 1e9:.1f} GB, {seconds:.0f} s")  # fmt: skip
        for size, name in parts[:8]:
            print(f"  {size / 1e9:6.2f} GB  {name}")
        return 0
    finally:
        if args.keep:
            print(f"kept {venv}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

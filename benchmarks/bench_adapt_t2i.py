"""Wall time and result of the text-to-image demo, the two commands a user runs:

    regionadapt init --region sea --arch t2i && regionadapt adapt --arch t2i

in a fresh project folder, from an empty cache (the demo base pipeline and the whole-world
judge are built too) or with a given cache (``--cache DIR``: built once, reused after). Prints
the result table (regional / global score, R-precision by the demo judge, and GRP for base,
tuned and each b), each stage's time from the run's manifest, how long the base and judge took
to build, and the machine's load average (the machine may be shared: read the times with it).
Targets (issue 15): 20 minutes from an empty cache, 10 minutes cached, on 2 CPU cores.

    python benchmarks/bench_adapt_t2i.py [--cache DIR] [--keep DIR] [--out result.json]
                                         [--tune-seed N] [--tune KEY=VALUE ...]
                                         [--collect KEY=VALUE ...] [--pretrain-steps N]

``--tune-seed`` re-runs the method with another tune seed (LoRA init, batch order, noise and
timesteps) on the same base, judge and prompts: a confirming second seed. ``--tune KEY=VALUE``
and ``--collect KEY=VALUE`` change the recipe init wrote (a ``[t2i.tune]`` key; a demo-world
collector param such as ``global_in_region``, the share of everyday pictures the region filter
keeps as rehearsal), and ``--pretrain-steps N`` a stronger or weaker demo base (cached apart):
each variant in docs/t2i.md is one such command.
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


def _toml_value(text: str):
    """A command-line value read as TOML (``3e-3``, ``"full"``, ``["to_q"]``)."""
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word (full, lora): the string itself


def _assignment(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        sys.exit(f"expected KEY=VALUE, got {item!r}")
    return key.strip(), value.strip()


def _override(config: Path, tune: list[str], collect: list[str]) -> dict:
    """Set ``[t2i.tune]`` keys and the demo-world collector's ``params`` in the file init wrote,
    editing its text (its comments stay) and checking every value by parsing the file back."""
    import re

    import tomllib

    from regionadapt.init_template import toml_value  # the literals init itself writes

    text = config.read_text(encoding="utf-8")
    wanted = {"tune": {}, "collect": {}}
    for item in tune:
        key, raw = _assignment(item)
        value = _toml_value(raw)
        head = text.index("[t2i.tune]")
        end = text.find("\n[", head + 1)
        end = len(text) if end < 0 else end
        table = text[head:end]
        line = f"{key} = {toml_value(value)}"
        table, n = re.subn(rf"(?m)^#? ?{re.escape(key)} =[^\n]*", line, table, count=1)
        if not n:
            table = table.rstrip("\n") + f"\n{line}\n"
        text = text[:head] + table + text[end:]
        wanted["tune"][key] = value
    for item in collect:
        key, raw = _assignment(item)
        value = _toml_value(raw)
        m = re.search(r'(?m)^collector = "demo-world".*\nparams = \{(.*)\}$', text)
        if not m:
            sys.exit(f"{config}: no demo-world collector with inline params")
        params, n = re.subn(rf"\b{re.escape(key)} = [^,}}]+", f"{key} = {toml_value(value)}",
                            m.group(1))  # fmt: skip
        if not n:
            params = f"{params.rstrip()}, {key} = {toml_value(value)} "
        text = text[: m.start(1)] + params + text[m.end(1) :]
        wanted["collect"][key] = value
    config.write_text(text, encoding="utf-8")
    parsed = tomllib.loads(text)
    source = next(s for s in parsed["collect"]["sources"] if s["collector"] == "demo-world")
    for key, value in wanted["tune"].items():
        assert parsed["t2i"]["tune"][key] == value, key
    for key, value in wanted["collect"].items():
        assert source["params"][key] == value, key
    return wanted


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--region", default="sea")
    ap.add_argument("--cache", type=Path, help="cache folder to use (default: a fresh, empty one)")
    ap.add_argument("--keep", type=Path, help="copy the run folder here (contact sheets...)")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--tune-seed", type=int, help="the [t2i.tune] seed (default: init's, 0)")
    ap.add_argument("--tune", action="append", default=[], metavar="KEY=VALUE",
                    help="set a [t2i.tune] key (TOML value), e.g. method=full lr=2e-3")  # fmt: skip
    ap.add_argument("--collect", action="append", default=[], metavar="KEY=VALUE",
                    help="set a demo-world collector param, e.g. global_in_region=1.0")  # fmt: skip
    ap.add_argument("--pretrain-steps", type=int,
                    help="pretrain the demo base this many steps (default: the demo's own; a "
                    "different base, cached apart)")  # fmt: skip
    args = ap.parse_args()
    if args.tune_seed is not None:
        args.tune.append(f"seed={args.tune_seed}")
    load_before = os.getloadavg()
    # A given folder with nothing in it is still an empty cache (base and judge get built).
    cold = args.cache is None or not any(args.cache.glob("demo-world/*"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cache = args.cache or work / "cache"
        env = {**os.environ, "REGIONADAPT_CACHE": str(cache), "HF_HUB_OFFLINE": "1",
               "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}  # fmt: skip
        if args.pretrain_steps:
            env["REGIONADAPT_DEMO_T2I_PRETRAIN_STEPS"] = str(args.pretrain_steps)
        cli = [sys.executable, "-m", "regionadapt"]
        t0 = time.perf_counter()
        _run(cli, ["init", "--region", args.region, "--arch", "t2i"], work, env)
        overrides = _override(work / "regionadapt.toml", args.tune, args.collect)
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
        "cache": "empty" if cold else "given",
        "overrides": overrides,
        "pretrain_steps": args.pretrain_steps,
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

"""Merge speed and memory: regionadapt's streaming engine vs mergekit, side by side.

Builds two synthetic Llama-shaped checkpoints (bf16, sharded, >= 1 GB each: a base and a
fine-tuned copy), then times each merge as a fresh process (imports included, as a user runs
it) and reads that process's peak RSS from ``os.wait4``. Outputs are compared tensor by tensor.

    python benchmarks/bench_merge.py --workdir /tmp/bench-merge [--methods ties,linear] [--rounds 1]

Not a test: the numbers depend on the machine; run it side by side in one go before quoting a
ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HIDDEN, INTER, VOCAB = 2048, 5632, 32000


def make_checkpoints(root: Path, layers: int) -> tuple[Path, Path]:
    base, tuned = root / "base", root / "tuned"
    if (tuned / "model.safetensors.index.json").exists():
        return base, tuned
    import torch
    from safetensors.torch import save_file
    from transformers import LlamaConfig

    shapes = {"model.embed_tokens.weight": (VOCAB, HIDDEN)}
    for i in range(layers):
        p = f"model.layers.{i}."
        for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
            shapes[p + f"self_attn.{n}.weight"] = (HIDDEN, HIDDEN)
        shapes[p + "mlp.gate_proj.weight"] = (INTER, HIDDEN)
        shapes[p + "mlp.up_proj.weight"] = (INTER, HIDDEN)
        shapes[p + "mlp.down_proj.weight"] = (HIDDEN, INTER)
        shapes[p + "input_layernorm.weight"] = (HIDDEN,)
        shapes[p + "post_attention_layernorm.weight"] = (HIDDEN,)
    shapes["model.norm.weight"] = (HIDDEN,)
    shapes["lm_head.weight"] = (VOCAB, HIDDEN)
    cfg = LlamaConfig(
        vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=INTER, num_hidden_layers=layers,
        num_attention_heads=16, num_key_value_heads=16, torch_dtype="bfloat16",
        architectures=["LlamaForCausalLM"],
    )  # fmt: skip
    names = list(shapes)
    n_shards = 3
    per = -(-len(names) // n_shards)
    g = torch.Generator().manual_seed(0)
    for folder, noise in ((base, 0.0), (tuned, 0.01)):
        folder.mkdir(parents=True, exist_ok=True)
        cfg.save_pretrained(folder)
        weight_map, total = {}, 0
        g.manual_seed(0)
        for s in range(n_shards):
            part = names[s * per : (s + 1) * per]
            shard = f"model-{s + 1:05d}-of-{n_shards:05d}.safetensors"
            sd = {}
            for k in part:
                t = torch.randn(shapes[k], generator=g) * 0.02
                if noise:
                    t += noise * torch.randn(shapes[k])
                sd[k] = t.bfloat16()
                total += sd[k].numel() * 2
            save_file(sd, str(folder / shard), metadata={"format": "pt"})
            weight_map.update(dict.fromkeys(part, shard))
            del sd
        index = {"metadata": {"total_size": total}, "weight_map": weight_map}
        (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return base, tuned


def measure(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of one fresh process.

    Linux counts a forked child's pages before ``exec`` in its ``ru_maxrss``: a child forked
    from a large parent reports at least the parent's size. So this parent stays small
    (torch only in a fresh interpreter: building the checkpoints, comparing outputs)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return wall, usage.ru_maxrss * 1024 / 1e9


def ours_cmd(method: str, base: Path, tuned: Path, out: Path, params: dict) -> list[str]:
    params = dict(params)
    workers = params.pop("workers")
    if method == "linear":
        models = [str(tuned), str(base)]
        call = (
            f"merge_checkpoints('linear', {models!r}, {str(out)!r}, weights=[0.5, 0.5], "
            f"workers={workers})"
        )
    else:
        call = (
            f"merge_checkpoints('ties', [{str(tuned)!r}], {str(out)!r}, base={str(base)!r}, "
            f"params={params!r}, workers={workers})"
        )
    return [sys.executable, "-c", f"from regionadapt.merge import merge_checkpoints; {call}"]


def mergekit_cmd(method: str, base: Path, tuned: Path, out: Path, cfg_path: Path) -> list[str]:
    if method == "linear":
        cfg = (
            f"merge_method: linear\ndtype: bfloat16\nmodels:\n"
            f"  - model: {tuned}\n    parameters: {{weight: 0.5}}\n"
            f"  - model: {base}\n    parameters: {{weight: 0.5}}\n"
        )
    else:
        # compute in float32 and write bfloat16: the same arithmetic as regionadapt's
        cfg = (
            f"merge_method: ties\ndtype: float32\nout_dtype: bfloat16\nbase_model: {base}\n"
            f"models:\n  - model: {tuned}\n    parameters: {{weight: 1.0, density: 0.5}}\n"
        )
    cfg_path.write_text(cfg)
    # mergekit-yaml's entry point, run by this interpreter; no model card (it looks up the
    # Hub) and no tokenizer copy (the synthetic checkpoints have none: it would fail slowly)
    code = "import sys; from mergekit.scripts.run_yaml import main; sys.argv[0] = 'mergekit-yaml'; main()"
    return [sys.executable, "-c", code, str(cfg_path), str(out), "--lazy-unpickle",
            "--no-write-model-card", "--no-copy-tokenizer"]  # fmt: skip


def compare(a: Path, b: Path) -> dict:
    """Largest difference and fraction of differing elements between two merged outputs."""
    from safetensors import safe_open

    def tensors(folder):
        index = folder / "model.safetensors.index.json"
        files = (
            sorted(set(json.loads(index.read_text())["weight_map"].values()))
            if index.exists()
            else ["model.safetensors"]
        )
        for f in files:
            with safe_open(str(folder / f), "pt") as fh:
                for k in fh.keys():
                    yield k, fh.get_tensor(k)

    theirs = dict(tensors(b))
    worst, diff, n = 0.0, 0, 0
    for k, t in tensors(a):
        d = (t.float() - theirs.pop(k).float()).abs()
        worst = max(worst, d.max().item())
        diff += int((d > 0).sum())
        n += d.numel()
    assert not theirs, f"tensors only in mergekit output: {list(theirs)[:3]}"
    return {"max_abs_diff": worst, "frac_elements_differing": diff / n}


def compare_in_child(a: Path, b: Path) -> dict:
    """``compare`` in a fresh interpreter, so that this process never holds the tensors."""
    code = (
        f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        f"from bench_merge import compare; from pathlib import Path; "
        f"print(json.dumps(compare(Path({str(a)!r}), Path({str(b)!r}))))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def variants(method: str) -> list[tuple[str, dict]]:
    from regionadapt.merge.engine import DEFAULT_MAX_WORKERS

    default = min(DEFAULT_MAX_WORKERS, os.cpu_count() or 1)
    params = {"density": 0.5} if method == "ties" else {}
    out = [("regionadapt workers=1", {**params, "workers": 1})]
    if default != 1:
        out.append((f"regionadapt workers={default} (default)", {**params, "workers": default}))
    return out


def run_round(args, base, tuned, method, rows, round_no) -> None:
    """One round: mergekit and every regionadapt variant, in an order that rotates per round
    so that a trend in the machine's load does not favour one tool."""
    jobs = [(label, params) for label, params in variants(method)]
    if not args.no_mergekit:
        jobs.append(("mergekit", None))
    shift = round_no % len(jobs)
    for label, params in jobs[shift:] + jobs[:shift]:
        out = args.workdir / f"out-{method}-{label.split()[-1 if params is None else 1]}"
        shutil.rmtree(out, ignore_errors=True)
        if params is None:
            cmd = mergekit_cmd(method, base, tuned, out, args.workdir / f"{method}.yml")
        else:
            cmd = ours_cmd(method, base, tuned, out, params)
        load = load_average()
        wall, rss = measure(cmd)
        rows.append({"tool": label, "method": method, "round": round_no, "seconds": wall,
                     "peak_rss_gb": rss, "out": out, "load": load})  # fmt: skip
    if not args.no_mergekit:
        mk_out = next(r["out"] for r in rows[-len(jobs) :] if r["tool"] == "mergekit")
        for r in rows[-len(jobs) :]:
            if r["tool"] != "mergekit":
                r.update(compare_in_child(r["out"], mk_out))


def print_table(rows: list[dict], read_gb: float) -> None:
    print(
        "| round | tool | method | seconds | peak RSS GB | time vs mergekit | peak RSS vs mergekit "
        "| elements differing from mergekit | load avg at start |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        mk = next((x for x in rows if x["method"] == r["method"] and x["round"] == r["round"]
                   and x["tool"] == "mergekit"), None)  # fmt: skip
        t = f"{r['seconds'] / mk['seconds']:.2f}x" if mk else "-"
        m = f"{r['peak_rss_gb'] / mk['peak_rss_gb']:.2f}x" if mk else "-"
        diff = r.get("frac_elements_differing", "-")
        print(
            f"| {r['round']} | {r['tool']} | {r['method']} | {r['seconds']:.1f} | "
            f"{r['peak_rss_gb']:.2f} | {t} | {m} | {diff} | {r['load']} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bench-merge"))
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--methods", default="ties,linear")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--no-mergekit", action="store_true")
    args = ap.parse_args()
    if not (args.workdir / "tuned" / "model.safetensors.index.json").exists():
        build = (
            f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"from bench_merge import make_checkpoints; from pathlib import Path; "
            f"make_checkpoints(Path({str(args.workdir)!r}), {args.layers})"
        )
        subprocess.run([sys.executable, "-c", build], check=True)
    base, tuned = make_checkpoints(args.workdir, args.layers)
    size = sum(p.stat().st_size for p in tuned.glob("*.safetensors")) / 1e9
    print(f"inputs: 2 checkpoints x {size:.2f} GB (bf16, 3 shards); {os.cpu_count()} CPUs; "
          f"load average at start: {load_average()}")  # fmt: skip
    rows: list[dict] = []
    for method in args.methods.split(","):
        for round_no in range(args.rounds):
            run_round(args, base, tuned, method, rows, round_no)
    print_table(rows, 2 * size)
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()

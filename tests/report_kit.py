"""results.json as the evaluate stage writes it, built in code for the report's tests: the
real schema (models, benchmarks with groups, the validation curve, summary), optionally with
the confidence intervals, raw metrics and choice record the lifecycle adds."""

from __future__ import annotations

from typing import Any

from regionadapt import metrics

A = 0.434
GRID = (0.25, 0.5, 0.75)


def _scores(b: float, split: str) -> tuple[float, float]:
    """A trade-off shaped like the method's: regional rises with b, global falls past 0.25."""
    shift = 0.0 if split == "test" else 0.01
    regional = min(1.0, 0.2 + 0.9 * b) - shift
    glob = 0.9 - 0.25 * max(0.0, b - 0.25) ** 1.5 * 2 + shift
    return regional, glob


def _entry(label: str, b: float, split: str, ci: bool, raw: bool) -> dict[str, Any]:
    regional, glob = _scores(b, split)
    grp = metrics.grp(glob, regional, A)
    langs = {"eng": regional, "tha": 0.0 if b == 0 else regional * 0.9, "lao": 1.0 if b else 0.5}
    bench_r = {
        "role": "regional", "score": regional, "n": 192, "metrics": {}, "skipped": {},
        "groups": {"lang": {k: {"score": v, "n": 10} for k, v in langs.items()},
                   "country": {"TH": {"score": regional, "n": 100}}},
    }  # fmt: skip
    bench_g = {"role": "global", "score": glob, "n": 240, "metrics": {}, "skipped": {},
               "groups": {}}  # fmt: skip
    if raw:
        bench_g.update(raw=100 * glob, raw_name="CLIPScore", normalization="raw / 100")
    out: dict[str, Any] = {
        "label": label, "split": split, "regional": regional, "global": glob, "grp": grp,
        "benchmarks": {"demo-regional": bench_r, "demo-global": bench_g},
    }  # fmt: skip
    if ci:
        out["ci"] = {
            k: [out[k] - 0.02, min(1.0, out[k] + 0.02)] for k in ("regional", "global", "grp")
        }
        bench_r["ci"] = [regional - 0.03, min(1.0, regional + 0.03)]
        bench_g["ci"] = [glob - 0.02, glob + 0.02]
    if 0 < b < 1:
        out["b"] = b
    return out


def make_results(
    ci: bool = False, raw: bool = False, retention: float = 0.0, label: str | None = "",
    choice: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    names = {0.0: "base", 1.0: "tuned"}
    val = {b: _entry(names.get(b, f"b={b:g}"), b, "validation", ci, raw) for b in (0.0, *GRID, 1.0)}
    points = [val[b] for b in GRID]
    allowed = [p for p in points if p["global"] >= retention * val[0.0]["global"] - 1e-12]
    best = max(allowed, key=lambda p: (p["grp"], -p["b"]))
    models = {names.get(b, f"b={b:g}"): _entry(names.get(b, f"b={b:g}"), b, "test", ci, raw)
              for b in (0.0, 1.0, *GRID)}  # fmt: skip
    results: dict[str, Any] = {
        "region": "sea", "region_name": "Southeast Asia", "arch": "embedding", "a": A,
        "a_source": "KOF index", "demo": bool(label), "selection_split": "validation",
        "report_split": "test", "chosen_b": best["b"], "min_global_retention": retention,
        "validation_curve": {"split": "validation", "a": A, "method": "linear",
                             "min_global_retention": retention, "chosen_b": best["b"],
                             "base": val[0.0], "tuned": val[1.0], "points": points},
        "models": models,
    }  # fmt: skip
    if label is not None:
        results["label"] = label
    if choice is not None:
        results["choice"] = choice
    m, chosen = models, models[f"b={best['b']:g}"]
    results["summary"] = {
        "chosen_b": best["b"],
        "regional_gain": chosen["regional"] - m["base"]["regional"],
        "global_retention": chosen["global"] / m["base"]["global"],
        "grp_base": m["base"]["grp"], "grp_tuned": m["tuned"]["grp"], "grp_chosen": chosen["grp"],
        "tuned_global_retention": m["tuned"]["global"] / m["base"]["global"],
    }  # fmt: skip
    return results

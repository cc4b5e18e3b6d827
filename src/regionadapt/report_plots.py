"""The report's figures, drawn from results.json alone (matplotlib, imported inside).

- ``grp_curve.png``: GRP over the merge ratio b (base at b = 0, tuned at b = 1) with each GRP
  value written on its point and the chosen b marked, the regional and global scores over b
  beside it, and the retention floor (``min_global_retention``) drawn where set. The selection
  split's curve is solid (it chose b), the reported split's dashed; confidence intervals are
  drawn as error bars where results.json has them.
- ``tradeoff.png``: regional against global, one point per model.
- ``groups_<benchmark>_<group>.png``: base vs tuned vs chosen merge per country, language...
  with room above 1.0, the legend outside the bars, and zero bars marked so that a 0.000 does
  not look like missing data.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

PLOT_NAME = "grp_curve.png"
TRADEOFF_NAME = "tradeoff.png"
TOP = 1.12  # room above a score of 1.0: bars and points at 1.0 never touch the frame


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    tmp = path.with_name(".tmp-" + path.name)
    fig.savefig(tmp, format="png")
    _plt().close(fig)
    tmp.replace(path)


def _banner(results: dict[str, Any]) -> str:
    label = results.get("label")
    if label is None and results.get("demo"):  # results written before the label field
        label = "DEMO WORLD"
    return f"[{label.split(':')[0]}] " if label else ""


def curve_points(results: dict[str, Any], split: str) -> list[dict[str, Any]]:
    """(b, model entry) over b on one split: base at 0, each merge, tuned at 1."""
    if split == "selection":
        vc = results.get("validation_curve") or {}
        base, tuned, merged = vc.get("base"), vc.get("tuned"), vc.get("points", [])
    else:
        m = results["models"]
        base, tuned = m["base"], m["tuned"]
        merged = [v for k, v in m.items() if k.startswith("b=")]
    pts = [{**p, "b": float(p["b"])} for p in merged if p and "b" in p]
    if base:
        pts.append({**base, "b": 0.0})
    if tuned:
        pts.append({**tuned, "b": 1.0})
    return sorted(pts, key=lambda p: p["b"])


def _errs(pts: list[dict[str, Any]], key: str):
    """Asymmetric error bars from ``ci[key]`` = [lo, hi], or None when no point has one."""
    if not any((p.get("ci") or {}).get(key) for p in pts):
        return None
    lo, hi = [], []
    for p in pts:
        ci = (p.get("ci") or {}).get(key)
        lo.append(max(0.0, p[key] - ci[0]) if ci else 0.0)
        hi.append(max(0.0, ci[1] - p[key]) if ci else 0.0)
    return [lo, hi]


def _line(ax, pts, key, style, color, label):
    xs, ys = [p["b"] for p in pts], [p[key] for p in pts]
    err = _errs(pts, key)
    if err:
        ax.errorbar(xs, ys, yerr=err, fmt=style, color=color, label=label, capsize=3, ms=5)
    else:
        ax.plot(xs, ys, style, color=color, label=label, ms=5)


def grp_curve(results: dict[str, Any], path: Path) -> None:
    """GRP over b with the choice explained; regional and global over b beside it."""
    plt = _plt()
    sel, rep = curve_points(results, "selection"), curve_points(results, "report")
    sel_name, rep_name = results["selection_split"], results["report_split"]
    chosen = float(results["chosen_b"])
    fig, (ax_grp, ax_rg) = plt.subplots(1, 2, figsize=(11, 4.4), dpi=110)
    curves = [(sel, "-o", sel_name)] if sel else []
    curves.append((rep, "--s", rep_name))
    for pts, style, name in curves:
        _line(ax_grp, pts, "grp", style, "tab:purple", f"GRP ({name})")
    shown = sel or rep  # the values that decided: the selection split's
    for p in shown:
        ax_grp.annotate(f"{p['grp']:.3f}", (p["b"], p["grp"]), textcoords="offset points",
                        xytext=(0, 8), ha="center", fontsize=8)  # fmt: skip
    floor = results.get("min_global_retention") or 0.0
    base_sel = next((p for p in shown if p["b"] == 0.0), None)
    if floor and base_sel is not None:  # candidates the retention constraint rules out
        out = [
            p for p in shown if 0 < p["b"] < 1 and p["global"] < floor * base_sel["global"] - 1e-12
        ]
        if out:
            ax_grp.scatter([p["b"] for p in out], [p["grp"] for p in out], marker="x", s=90,
                           color="0.3", zorder=6, label=f"keeps < {floor:.0%} of global")  # fmt: skip
    best = next((p for p in shown if math.isclose(p["b"], chosen)), None)
    ax_grp.axvline(chosen, color="tab:green", lw=1.5, alpha=0.6)
    if best is not None:
        ax_grp.scatter([chosen], [best["grp"]], s=220, facecolors="none", edgecolors="tab:green",
                       linewidths=2, zorder=5, label=f"chosen b = {chosen:g}")  # fmt: skip
    ax_grp.set_title(f"GRP = a*global + (1-a)*regional, a = {results['a']:.3f}", fontsize=9)
    ax_grp.set_ylabel("GRP")
    for pts, style, name in curves:
        _line(ax_rg, pts, "regional", style, "tab:red", f"regional ({name})")
        _line(ax_rg, pts, "global", style, "tab:blue", f"global ({name})")
    ax_rg.axvline(chosen, color="tab:green", lw=1.5, alpha=0.6)
    if floor and base_sel is not None:
        y = floor * base_sel["global"]
        ax_rg.axhline(y, color="tab:blue", ls=":", lw=1.2,
                      label=f"retention floor: {floor:.0%} of base global ({sel_name})")  # fmt: skip
    ax_rg.set_title("regional and global score over b", fontsize=9)
    ax_rg.set_ylabel("score")
    for ax in (ax_grp, ax_rg):
        ax.set_xlabel("merge ratio b (0 = base, 1 = tuned, unmerged)")
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(min(0.0, ax.get_ylim()[0]), TOP)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.08), ncol=2, frameon=False)
    fig.suptitle(f"{_banner(results)}{results['region_name']}, {results['arch']}: why b = "
                 f"{chosen:g} (highest GRP on {sel_name})", fontsize=10)  # fmt: skip
    fig.tight_layout()
    _save(fig, path)


def tradeoff(results: dict[str, Any], path: Path) -> None:
    """Regional vs global score on the reported split, one point per model."""
    plt = _plt()
    pts = curve_points(results, "report")
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    ax.plot([p["global"] for p in pts], [p["regional"] for p in pts], "-", color="0.7", zorder=1)
    for p in pts:
        name = "base" if p["b"] == 0 else "tuned" if p["b"] == 1 else f"b={p['b']:g}"
        ax.scatter([p["global"]], [p["regional"]], color="tab:blue", zorder=2)
        ax.annotate(name, (p["global"], p["regional"]), textcoords="offset points",
                    xytext=(5, 4), fontsize=8)  # fmt: skip
    chosen = next(p for p in pts if math.isclose(p["b"], float(results["chosen_b"])))
    ax.scatter([chosen["global"]], [chosen["regional"]], s=180, facecolors="none",
               edgecolors="tab:green", linewidths=2, zorder=4, label="chosen")  # fmt: skip
    ax.set_xlabel(f"global score ({results['report_split']})")
    ax.set_ylabel(f"regional score ({results['report_split']})")
    ax.set_title(f"{_banner(results)}{results['region_name']}: regional vs global", fontsize=9)
    ax.margins(0.08)  # labels and the chosen ring stay inside the frame
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    _save(fig, path)


def group_bars(
    results: dict[str, Any], labels: list[str], out_dir: Path
) -> list[tuple[str, str, str]]:
    """One grouped bar chart per benchmark and grouping with at least two values.
    Returns (benchmark, group, file name)."""
    plt = _plt()
    made = []
    for name, bench in results["models"]["base"]["benchmarks"].items():
        for group, values in sorted(bench.get("groups", {}).items()):
            keys = sorted(values)
            if len(keys) < 2:
                continue
            fig, ax = plt.subplots(figsize=(max(5, 0.45 * len(keys) * len(labels)), 3.8), dpi=100)
            width = 0.8 / len(labels)
            for i, label in enumerate(labels):
                groups = (
                    results["models"][label]["benchmarks"][name].get("groups", {}).get(group, {})
                )
                heights = [groups.get(k, {}).get("score", float("nan")) for k in keys]
                xs = [x + i * width for x in range(len(keys))]
                bars = ax.bar(xs, heights, width, label=label)
                for x, h in zip(xs, heights):
                    if h != h:  # NaN: this model has no item in this group
                        ax.text(x, 0.01, "n/a", ha="center", va="bottom", fontsize=6, rotation=90)
                    elif h == 0:  # a real zero: drawn as a stub with its value
                        ax.plot([x - width / 2, x + width / 2], [0, 0], lw=2.5,
                                color=bars.patches[0].get_facecolor())  # fmt: skip
                        ax.text(x, 0.01, "0", ha="center", va="bottom", fontsize=7)
            ax.set_xticks([x + width * (len(labels) - 1) / 2 for x in range(len(keys))])
            ax.set_xticklabels(keys, rotation=45 if len(keys) > 6 else 0,
                               ha="right" if len(keys) > 6 else "center", fontsize=8)  # fmt: skip
            ax.set_ylim(0, TOP)
            ax.axhline(1.0, color="0.6", lw=0.8, ls=":")
            ax.set_ylabel("score")
            title = f"{_banner(results)}{name}: by {group} ({results['report_split']})"
            ax.set_title(title, fontsize=9, pad=22)
            # above the axes, not over the bars
            ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(labels),
                      frameon=False)  # fmt: skip
            ax.grid(axis="y", alpha=0.3)
            fig.tight_layout()
            file = f"groups_{name}_{group}.png".replace("/", "_")
            _save(fig, out_dir / file)
            made.append((name, group, file))
    return made

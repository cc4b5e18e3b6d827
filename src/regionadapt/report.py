"""Human-readable results: the terminal table, report.md and the plot of regional vs global
score over the merge ratio b. Everything is rendered from results.json alone, so
``regionadapt report RUN_DIR`` can redo it at any time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from regionadapt.errors import StageError
from regionadapt.rundir import atomic_write_text

PLOT_NAME = "grp_curve.png"


def load_results(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "evaluate" / "results.json"
    if not path.exists():
        raise StageError(f"{path}: not found; the evaluate stage has not finished in {run_dir}")
    return json.loads(path.read_text(encoding="utf-8"))


def _rows(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    models = results["models"]
    order = ["base", "tuned"] + sorted(
        (k for k in models if k.startswith("b=")), key=lambda k: models[k]["b"]
    )
    return [(k, models[k]) for k in order]


def table(results: dict[str, Any]) -> str:
    """The result table as aligned plain text (also valid Markdown)."""
    chosen = f"b={results['chosen_b']:g}"
    lines = [
        "| model | regional | global | GRP | |",
        "|---|---:|---:|---:|---|",
    ]
    for label, m in _rows(results):
        mark = "<- chosen" if label == chosen else ("unmerged" if label == "tuned" else "")
        lines.append(
            f"| {label} | {m['regional']:.3f} | {m['global']:.3f} | {m['grp']:.3f} | {mark} |"
        )
    return "\n".join(lines)


def headline(results: dict[str, Any]) -> str:
    s = results["summary"]
    return (
        f"chosen b = {s['chosen_b']:g} (highest GRP on the {results['selection_split']} split"
        + (
            f", keeping >= {results['min_global_retention']:.0%} of global"
            if results["min_global_retention"]
            else ""
        )
        + f"); on the {results['report_split']} split: regional gain "
        f"{100 * s['regional_gain']:+.1f} points, global retention {100 * s['global_retention']:.1f}%, "
        f"GRP {s['grp_base']:.3f} (base) / {s['grp_tuned']:.3f} (tuned, unmerged) -> {s['grp_chosen']:.3f}"
    )


def text_report(results: dict[str, Any]) -> str:
    title = f"regionadapt: {results['region_name']} ({results['region']}), {results['arch']}"
    parts = [title, ""]
    if results.get("demo"):
        parts += [
            "DEMO WORLD: generated pictures and a small model; it shows the method, not real-model results.",
            "",
        ]
    parts += [
        f"GRP = a*Q_global + (1-a)*Q_regional with a = {results['a']:.3f} ({results['a_source']})",
        "",
        table(results),
        "",
        headline(results),
    ]
    return "\n".join(parts)


def _benchmark_details(results: dict[str, Any]) -> str:
    out = []
    show = _compared(results)
    first = results["models"]["base"]["benchmarks"]
    for name, bench in first.items():
        out.append(f"### {name} ({bench['role']})\n")
        out.append("| model | score | n | skipped |")
        out.append("|---|---:|---:|---|")
        for label in show:
            b = results["models"][label]["benchmarks"][name]
            skipped = ", ".join(f"{k}: {v}" for k, v in b.get("skipped", {}).items()) or "-"
            out.append(f"| {label} | {b['score']:.3f} | {b['n']} | {skipped} |")
        for group in sorted(bench.get("groups", {})):
            out.append(f"\nBy {group}:\n")
            out.append("| " + group + " | " + " | ".join(show) + " | n |")
            out.append("|---|" + "---:|" * (len(show) + 1))
            for value, g in sorted(bench["groups"][group].items()):
                cells = []
                for label in show:
                    gg = (
                        results["models"][label]["benchmarks"][name]["groups"]
                        .get(group, {})
                        .get(value)
                    )
                    cells.append(f"{gg['score']:.3f}" if gg else "-")
                out.append(f"| {value} | " + " | ".join(cells) + f" | {int(g['n'])} |")
        out.append("")
    return "\n".join(out)


def plot(results: dict[str, Any], path: Path) -> None:
    """Regional vs global score, one point per b, base and tuned marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    rows = _rows(results)
    pts = [(m["global"], m["regional"], m.get("b")) for label, m in rows if label.startswith("b=")]
    base, tuned = results["models"]["base"], results["models"]["tuned"]
    xs = [base["global"]] + [p[0] for p in pts] + [tuned["global"]]
    ys = [base["regional"]] + [p[1] for p in pts] + [tuned["regional"]]
    ax.plot(xs, ys, "-", color="0.7", zorder=1)
    ax.scatter(
        [p[0] for p in pts], [p[1] for p in pts], color="tab:blue", zorder=2, label="merged (b)"
    )
    for g, r, b in pts:
        ax.annotate(f"b={b:g}", (g, r), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.scatter(
        [base["global"]], [base["regional"]], marker="s", color="k", zorder=3, label="base (b=0)"
    )
    ax.scatter(
        [tuned["global"]],
        [tuned["regional"]],
        marker="^",
        color="tab:red",
        zorder=3,
        label="tuned (b=1)",
    )
    chosen = results["models"][f"b={results['chosen_b']:g}"]
    ax.scatter([chosen["global"]], [chosen["regional"]], s=180, facecolors="none", edgecolors="tab:green",
               linewidths=2, zorder=4, label=f"chosen b={results['chosen_b']:g}")  # fmt: skip
    ax.set_xlabel(f"global score ({results['report_split']})")
    ax.set_ylabel(f"regional score ({results['report_split']})")
    title = f"{results['region_name']}, {results['arch']}: regional vs global over b"
    if results.get("demo"):
        title = "[DEMO WORLD] " + title
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    tmp = path.with_name(".tmp-" + path.name)
    fig.savefig(tmp, format="png")
    plt.close(fig)
    tmp.replace(path)


def _compared(results: dict[str, Any]) -> list[str]:
    return ["base", "tuned", f"b={results['chosen_b']:g}"]


def group_plots(results: dict[str, Any], out_dir: Path) -> list[tuple[str, str, str]]:
    """One grouped bar chart per benchmark and grouping (country, lang, income bin...):
    base vs tuned vs the chosen merge side by side. Returns (benchmark, group, file name)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = _compared(results)
    made = []
    for name, bench in results["models"]["base"]["benchmarks"].items():
        for group, values in sorted(bench.get("groups", {}).items()):
            keys = sorted(values)
            if len(keys) < 2:
                continue
            fig, ax = plt.subplots(figsize=(max(5, 0.45 * len(keys) * len(labels)), 3.6), dpi=100)
            width = 0.8 / len(labels)
            for i, label in enumerate(labels):
                groups = (
                    results["models"][label]["benchmarks"][name].get("groups", {}).get(group, {})
                )
                heights = [groups.get(k, {}).get("score", float("nan")) for k in keys]
                ax.bar([x + i * width for x in range(len(keys))], heights, width, label=label)
            ax.set_xticks([x + width * (len(labels) - 1) / 2 for x in range(len(keys))])
            ax.set_xticklabels(
                keys,
                rotation=45 if len(keys) > 6 else 0,
                ha="right" if len(keys) > 6 else "center",
                fontsize=8,
            )
            ax.set_ylim(0, 1)
            ax.set_ylabel("score")
            title = f"{name}: by {group} ({results['report_split']})"
            ax.set_title(("[DEMO WORLD] " if results.get("demo") else "") + title, fontsize=9)
            ax.legend(fontsize=8)
            ax.grid(axis="y", alpha=0.3)
            fig.tight_layout()
            file = f"groups_{name}_{group}.png".replace("/", "_")
            fig.savefig(out_dir / file, format="png")
            plt.close(fig)
            made.append((name, group, file))
    return made


def write_report(results: dict[str, Any], out_dir: str | Path) -> Path:
    out_dir = Path(out_dir)
    plot(results, out_dir / PLOT_NAME)
    figures = group_plots(results, out_dir)
    md = [
        f"# {text_report(results).splitlines()[0]}",
        "",
        *text_report(results).splitlines()[2:],
        "",
        f"![regional vs global over b]({PLOT_NAME})",
        "",
        f"Merge ratio selected on the `{results['selection_split']}` split; every number above is on "
        f"the `{results['report_split']}` split. Validation curve: merge/curve.json.",
        "",
        "## Benchmarks",
        "",
        _benchmark_details(results),
        "## Per group: base vs tuned vs chosen merge",
        "",
        *(f"![{name} by {group}]({file})\n" for name, group, file in figures),
    ]
    path = out_dir / "report.md"
    atomic_write_text(path, "\n".join(md) + "\n")
    return path

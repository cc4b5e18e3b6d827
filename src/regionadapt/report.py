"""Human-readable results: the terminal table, report.md, a self-contained report.html (its
figures embedded) and the plots (:mod:`regionadapt.report_plots`). Everything is rendered from
results.json alone, so ``regionadapt report RUN_DIR`` can redo it at any time.

Optional parts of results.json are shown when present and skipped when not: confidence
intervals (``models[label]["ci"]``, ``benchmarks[name]["ci"]``), raw non-accuracy metrics
(``raw``, ``raw_name``, ``normalization``), the choice's margin over the runner-up
(``choice``), the result label (``label``: "" for a real model) and pictures evaluators kept
in the run (a benchmark entry's ``images``: [{"path": relative to the run folder, "title"}],
e.g. contact sheets of generated images), shown under "Images" once each.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
from pathlib import Path
from typing import Any

from regionadapt.errors import StageError
from regionadapt.report_plots import PLOT_NAME, TRADEOFF_NAME, curve_points
from regionadapt.rundir import atomic_write_text

__all__ = ["PLOT_NAME", "load_results", "render_report", "table", "text_report", "write_report"]

Block = (
    tuple  # ("h1"|"h2"|"h3"|"p"|"pre", text) | ("table", header, rows, align) | ("img", alt, file)
)


def load_results(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "evaluate" / "results.json"
    if not path.exists():
        raise StageError(f"{path}: not found; the evaluate stage has not finished in {run_dir}")
    return json.loads(path.read_text(encoding="utf-8"))


def _label(results: dict[str, Any]) -> str:
    if "label" in results:
        return results["label"] or ""
    if results.get("demo"):  # results.json written before the label field
        return "DEMO WORLD: generated pictures and a small model; it shows the method, not real-model results."
    return ""


def _rows(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    models = results["models"]
    order = ["base", "tuned"] + sorted(
        (k for k in models if k.startswith("b=")), key=lambda k: models[k]["b"]
    )
    return [(k, models[k]) for k in order]


def _ci(ci: Any) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""


def _cell(m: dict[str, Any], key: str) -> str:
    ci = (m.get("ci") or {}).get(key)
    return f"{m[key]:.3f} {_ci(ci)}" if ci else f"{m[key]:.3f}"


def _chosen_label(results: dict[str, Any]) -> str:
    return f"b={results['chosen_b']:g}"


def _result_table(results: dict[str, Any]) -> Block:
    chosen = _chosen_label(results)
    rows = []
    for label, m in _rows(results):
        mark = "<- chosen" if label == chosen else ("unmerged" if label == "tuned" else "")
        rows.append([label, _cell(m, "regional"), _cell(m, "global"), _cell(m, "grp"), mark])
    has_ci = any(m.get("ci") for _, m in _rows(results))
    head = ["model", "regional", "global", "GRP", ""]
    if has_ci:
        head[1:4] = [f"{h} [95% CI]" for h in head[1:4]]
    return ("table", head, rows, "lrrrl")


def _md_table(block: Block) -> str:
    _, head, rows, align = block
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(sep) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def table(results: dict[str, Any]) -> str:
    """The result table as aligned plain text (also valid Markdown)."""
    return _md_table(_result_table(results))


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


def _runner_up(results: dict[str, Any]):
    """The chosen point, the next-best allowed candidate and the better ones the retention
    floor ruled out, on the selection split."""
    pts = [p for p in curve_points(results, "selection") if 0 < p["b"] < 1]
    chosen = next((p for p in pts if math.isclose(p["b"], results["chosen_b"])), None)
    base = next((p for p in curve_points(results, "selection") if p["b"] == 0), None)
    floor = results.get("min_global_retention") or 0.0
    allowed = [
        p for p in pts if base is None or p["global"] >= floor * base["global"] - 1e-12
    ]  # fmt: skip
    others = sorted((p for p in allowed if p is not chosen), key=lambda p: -p["grp"])
    ruled_out = [p for p in pts if p not in allowed and chosen and p["grp"] > chosen["grp"]]
    return chosen, (others[0] if others else None), ruled_out


def why_chosen(results: dict[str, Any]) -> str:
    """Why b won, and whether its margin over the runner-up exceeds noise."""
    split = results["selection_split"]
    choice = results.get("choice") or {}
    chosen, runner, ruled_out = _runner_up(results)
    b = results["chosen_b"]
    if chosen is None:
        return f"b = {b:g} was chosen on the {split} split."
    text = f"Why b = {b:g}: it has the highest GRP on the {split} split ({chosen['grp']:.3f})"
    if ruled_out:
        floor = results["min_global_retention"]
        text += (
            f" among the ratios keeping {floor:.0%} of the base's global score ("
            + ", ".join(f"b = {p['b']:g}" for p in ruled_out)
            + " scored higher but kept less)"
        )
    b2 = choice.get("runner_up", runner["b"] if runner else None)
    if b2 is None:
        return text + "; no other candidate."
    margin = choice.get("grp_margin")
    if margin is None and runner is not None:
        margin = chosen["grp"] - runner["grp"]
    text += f"; the runner-up b = {b2:g} is {margin:.3f} lower"
    if choice.get("margin_ci"):
        lo, hi = choice["margin_ci"]
        verdict = (
            "excludes 0: the margin exceeds the noise" if choice.get("significant")
            else "includes 0: within the noise, the two ratios are equally good"
        )  # fmt: skip
        text += f" (95% CI of the margin [{lo:.3f}, {hi:.3f}] {verdict})"
    else:
        text += " (no confidence interval recorded: whether this exceeds the noise is unknown)"
    text += "."
    if "best_retaining_98" in choice:
        r98 = choice["best_retaining_98"]
        text += (
            f" Best ratio keeping 98% of the base's global score: b = {r98:g}."
            if r98 is not None
            else " No ratio keeps 98% of the base's global score."
        )
    return text


def text_report(results: dict[str, Any]) -> str:
    title = f"regionadapt: {results['region_name']} ({results['region']}), {results['arch']}"
    parts = [title, ""]
    if _label(results):
        parts += [_label(results), ""]
    parts += [
        f"GRP = a*Q_global + (1-a)*Q_regional with a = {results['a']:.3f} ({results['a_source']})",
        "",
        table(results),
        "",
        headline(results),
        why_chosen(results),
    ]
    return "\n".join(parts)


def _compared(results: dict[str, Any]) -> list[str]:
    return ["base", "tuned", _chosen_label(results)]


def _benchmark_blocks(results: dict[str, Any]) -> list[Block]:
    out: list[Block] = []
    show = _compared(results)
    for name, bench in results["models"]["base"]["benchmarks"].items():
        out.append(("h3", f"{name} ({bench['role']})"))
        entries = [results["models"][label]["benchmarks"][name] for label in show]
        has_ci = any(e.get("ci") for e in entries)
        raw_name = next((e.get("raw_name") for e in entries if e.get("raw") is not None), None)
        head = ["model", "score"] + (["95% CI"] if has_ci else [])
        head += [raw_name] if raw_name else []
        head += ["n", "skipped"]
        rows = []
        for label, b in zip(show, entries):
            skipped = ", ".join(f"{k}: {v}" for k, v in b.get("skipped", {}).items()) or "-"
            row = [label, f"{b['score']:.3f}"] + ([_ci(b.get("ci")) or "-"] if has_ci else [])
            row += [f"{b['raw']:.4g}" if b.get("raw") is not None else "-"] if raw_name else []
            rows.append(row + [b["n"], skipped])
        out.append(("table", head, rows, "lr" + "r" * (len(head) - 4) + "rl"))
        norm = next((e.get("normalization") for e in entries if e.get("normalization")), None)
        if raw_name and norm:
            out.append(
                ("p", f"score = {raw_name} normalised to [0, 1] ({norm}); raw value beside it.")
            )
        for group in sorted(bench.get("groups", {})):
            out.append(("p", f"By {group}:"))
            rows = []
            for value, g in sorted(bench["groups"][group].items()):
                cells = []
                for label in show:
                    gg = (
                        results["models"][label]["benchmarks"][name]["groups"]
                        .get(group, {})
                        .get(value)
                    )
                    cells.append(f"{gg['score']:.3f}" if gg else "-")
                rows.append([value, *cells, int(g["n"])])
            out.append(("table", [group, *show, "n"], rows, "l" + "r" * (len(show) + 1)))
    return out


def recorded_images(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(benchmark, title, path relative to the run folder) of every picture an evaluator
    recorded, in benchmark order, each path once (every model's entry names the same sheet)."""
    seen: dict[str, tuple[str, str, str]] = {}
    for _label, m in _rows(results):
        for name, bench in m.get("benchmarks", {}).items():
            for img in bench.get("images", []):
                path = img["path"]
                if path not in seen:
                    seen[path] = (name, img.get("title") or path, path)
    return list(seen.values())


def _image_blocks(results: dict[str, Any], run_root: Path | None, out_dir: Path) -> list[Block]:
    images = recorded_images(results)
    if not images or run_root is None:
        return []
    out: list[Block] = [("h2", "Images")]
    missing = []
    for name, title, path in images:
        file = run_root / path
        if file.is_file():
            out.append(("p", f"{name}: {title} (`{path}`)"))
            out.append(("img", f"{name}: {title}", os.path.relpath(file, out_dir)))
        else:
            missing.append(path)
    if missing:
        out.append(("p", "Recorded but not found in the run folder: "
                    + ", ".join(f"`{m}`" for m in missing)))  # fmt: skip
    return out


def _blocks(
    results: dict[str, Any], figures: list[tuple[str, str, str]], images: list[Block] = ()
) -> list[Block]:
    text = text_report(results).splitlines()
    label = _label(results)
    blocks: list[Block] = [("h1", text[0])]
    if label:
        blocks.append(("p", f"**{label}**"))
    blocks += [
        ("p", f"GRP = a*Q_global + (1-a)*Q_regional with a = {results['a']:.3f} ({results['a_source']})"),
        _result_table(results),
        ("p", headline(results)),
        ("p", why_chosen(results)),
        ("img", "GRP over b, with regional and global beside it", PLOT_NAME),
        ("p", f"Merge ratio selected on the `{results['selection_split']}` split (solid lines); "
              f"every number in the tables is on the `{results['report_split']}` split (dashed). "
              "Validation curve: merge/curve.json."),
        ("img", "regional vs global", TRADEOFF_NAME),
        ("h2", "Benchmarks"),
        *_benchmark_blocks(results),
    ]  # fmt: skip
    if figures:
        blocks.append(("h2", "Per group: base vs tuned vs chosen merge"))
        blocks += [("img", f"{name} by {group}", file) for name, group, file in figures]
    blocks += list(images)
    return blocks


def to_markdown(blocks: list[Block]) -> str:
    out = []
    for b in blocks:
        kind = b[0]
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + b[1])
        elif kind == "p":
            out.append(b[1])
        elif kind == "table":
            out.append(_md_table(b))
        elif kind == "img":
            out.append(f"![{b[1]}]({b[2]})")
    return "\n\n".join(out) + "\n"


_CSS = """body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;
color:#222}table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #ccc;
padding:.2rem .6rem}td.r{text-align:right;font-variant-numeric:tabular-nums}img{max-width:100%;
display:block;margin:1rem 0}.label{background:#fff3cd;padding:.5rem;border:1px solid #e0c060}"""


def _inline(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)


def to_html(blocks: list[Block], title: str, folder: Path) -> str:
    """One self-contained page: the figures are embedded as data URIs (nothing to fetch)."""
    body = []
    for b in blocks:
        kind = b[0]
        if kind in ("h1", "h2", "h3"):
            body.append(f"<{kind}>{_inline(b[1])}</{kind}>")
        elif kind == "p":
            cls = ' class="label"' if b[1].startswith("**") else ""
            body.append(f"<p{cls}>{_inline(b[1])}</p>")
        elif kind == "table":
            _, head, rows, align = b
            h = "".join(f"<th>{_inline(str(c))}</th>" for c in head)
            r = "".join(
                "<tr>" + "".join(
                    f'<td class="{a}">{_inline(str(c))}</td>' for c, a in zip(row, align)
                ) + "</tr>"
                for row in rows
            )  # fmt: skip
            body.append(f"<table><thead><tr>{h}</tr></thead><tbody>{r}</tbody></table>")
        elif kind == "img":
            data = base64.b64encode((folder / b[2]).read_bytes()).decode("ascii")
            body.append(f'<img alt="{html.escape(b[1])}" src="data:image/png;base64,{data}">')
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title><style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def render_report(
    results: dict[str, Any], out_dir: str | Path, run_root: str | Path | None = None
) -> list[Path]:
    """Write report.md, report.html and every figure into ``out_dir``; return what was written.

    ``run_root`` is the run folder the recorded images' paths are relative to (default: the
    parent of ``out_dir``, which is where the evaluate stage and ``regionadapt report`` write)."""
    from regionadapt import report_plots

    out_dir = Path(out_dir)
    root = Path(run_root) if run_root is not None else out_dir.resolve().parent
    report_plots.grp_curve(results, out_dir / PLOT_NAME)
    report_plots.tradeoff(results, out_dir / TRADEOFF_NAME)
    figures = report_plots.group_bars(results, _compared(results), out_dir)
    blocks = _blocks(results, figures, _image_blocks(results, root, out_dir.resolve()))
    md, page = out_dir / "report.md", out_dir / "report.html"
    atomic_write_text(md, to_markdown(blocks))
    atomic_write_text(page, to_html(blocks, blocks[0][1], out_dir))
    return [md, page, out_dir / PLOT_NAME, out_dir / TRADEOFF_NAME] + [
        out_dir / f for _, _, f in figures
    ]


def write_report(
    results: dict[str, Any], out_dir: str | Path, run_root: str | Path | None = None
) -> Path:
    """Like :func:`render_report`; returns the path of report.md."""
    return render_report(results, out_dir, run_root)[0]

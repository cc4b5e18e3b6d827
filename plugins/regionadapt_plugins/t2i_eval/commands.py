"""``regionadapt t2i-rating export|import``: the human-rating kit on the command line."""

# ruff: noqa: B008  (typer declares options as argument defaults)

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(cli: typer.Typer) -> None:
    app = typer.Typer(help="Blind human rating of generated images (text-to-image runs).")

    @app.command("export")
    def export(
        run: Path = typer.Argument(..., help="A t2i run folder, e.g. runs/sea-t2i."),
        out: Path = typer.Option(None, help="Where to write the sheet (default <run>/rating)."),
        split: str = typer.Option("test", help="Whose images: the split the evaluator drew."),
        prompt_set: list[str] = typer.Option(None, help="Only these prompt sets (repeatable)."),
        seed: int = typer.Option(0, help="Shuffling seed."),
    ) -> None:
        """Write rating.html + rating.csv (for raters) and key.json (keep it from them)."""
        from regionadapt_plugins.t2i_eval.rating import export_sheet

        paths = export_sheet(run, out or run / "rating", split, prompt_set or None, seed)
        for kind, path in paths.items():
            typer.echo(f"{kind}: {path}")

    @app.command("import")
    def import_(
        key: Path = typer.Argument(..., help="The key.json written by export."),
        sheets: list[Path] = typer.Argument(..., help="Filled rating CSVs (one per rater)."),
        json_out: Path = typer.Option(None, "--json", help="Also write the summary as JSON."),
    ) -> None:
        """Mean and 95% interval of correctness and naturalness per model and category."""
        from regionadapt_plugins.t2i_eval.rating import import_ratings

        res = import_ratings(key, sheets)
        for model, m in res["models"].items():
            parts = [f"{q} {e['mean']:.3f} [{e['ci'][0]:.3f}, {e['ci'][1]:.3f}] (n={e['n']})"
                     for q, e in m["overall"].items()]  # fmt: skip
            typer.echo(f"{model:>10}: " + "; ".join(parts))
        if any(res["skipped"].values()):
            typer.echo(f"skipped: {res['skipped']}")
        if json_out:
            json_out.write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n")

    cli.add_typer(app, name="t2i-rating")

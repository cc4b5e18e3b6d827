"""``regionadapt report RUN_DIR``: render a finished run's results again."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def report(
        run_dir: Path = typer.Argument(..., help="A run directory (runs/<region>-<arch>)."),
    ) -> None:
        """Print the result table and render report.md, a self-contained report.html and the
        plots (GRP over b, regional vs global, per-group bars).

        Written to RUN_DIR/report/ (the evaluate stage's own folder is left untouched, so the
        run stays up to date)."""
        from regionadapt.report import load_results, render_report, text_report

        results = load_results(run_dir)
        out = run_dir / "report"
        out.mkdir(exist_ok=True)
        written = render_report(results, out)
        typer.echo(text_report(results))
        typer.echo(f"\nwrote {len(written)} files in {out}: " + ", ".join(p.name for p in written))

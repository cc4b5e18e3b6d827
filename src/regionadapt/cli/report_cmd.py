"""``regionadapt report RUN_DIR``: render a finished run's results again."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def report(
        run_dir: Path = typer.Argument(..., help="A run directory (runs/<region>-<arch>)."),
    ) -> None:
        """Print the result table and render report.md + the plot of regional vs global over b.

        Written to RUN_DIR/report/ (the evaluate stage's own folder is left untouched, so the
        run stays up to date)."""
        from regionadapt.report import load_results, text_report, write_report

        results = load_results(run_dir)
        out = run_dir / "report"
        out.mkdir(exist_ok=True)
        path = write_report(results, out)
        typer.echo(text_report(results))
        typer.echo(f"\nwrote {path} and {path.parent / 'grp_curve.png'}")

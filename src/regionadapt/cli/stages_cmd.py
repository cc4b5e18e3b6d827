"""``regionadapt adapt`` and the one-stage commands ``collect|filter|tune|merge|evaluate``."""

from __future__ import annotations

from pathlib import Path

import typer

ARCH_HELP = "Architecture: embedding, t2i or lvlm (default: the one the project file configures)."
CONFIG_HELP = "Project file written by `regionadapt init`."


def _open(config: Path, arch: str | None, run_dir: Path | None):
    from regionadapt.lifecycle import open_project

    return open_project(config, arch, run_dir)


def _finish(project, timings: dict[str, float]) -> None:
    from regionadapt.report import load_results, text_report

    typer.echo("")
    if (project.run.stage_dir("evaluate") / "results.json").exists():
        typer.echo(text_report(load_results(project.run.root)))
    typer.echo("")
    typer.echo("stage timings: " + ", ".join(f"{s} {t:.1f}s" for s, t in timings.items()))
    typer.echo(
        f"run directory: {project.run.root}  (report: {project.run.root / 'evaluate' / 'report.md'})"
    )


def register(app: typer.Typer) -> None:
    from regionadapt.rundir import STAGES

    @app.command()
    def adapt(
        arch: str = typer.Option(None, help=ARCH_HELP),
        config: Path = typer.Option(Path("regionadapt.toml"), "--config", "-c", help=CONFIG_HELP),
        force: str = typer.Option(None, help="Rerun this stage and every later one."),
        run_dir: Path = typer.Option(
            None, help="Run directory (default: <run_root>/<region>-<arch>)."
        ),
    ) -> None:
        """Run collect -> filter -> tune -> merge -> evaluate; finished stages are skipped."""
        from regionadapt.lifecycle import run_stages

        project = _open(config, arch, run_dir)
        timings = run_stages(project, list(STAGES), force_from=force)
        _finish(project, timings)

    def make_stage(stage: str):
        def command(
            arch: str = typer.Option(None, help=ARCH_HELP),
            config: Path = typer.Option(
                Path("regionadapt.toml"), "--config", "-c", help=CONFIG_HELP
            ),
            force: bool = typer.Option(
                False, "--force", help="Rerun even if up to date (later stages become stale)."
            ),
            run_dir: Path = typer.Option(
                None, help="Run directory (default: <run_root>/<region>-<arch>)."
            ),
        ) -> None:
            from regionadapt.lifecycle import run_stages

            project = _open(config, arch, run_dir)
            timings = run_stages(project, [stage], force_from=stage if force else None)
            _finish(project, timings)

        command.__doc__ = (
            f"Run the {stage} stage alone (resumable; reads the earlier stages' outputs)."
        )
        return command

    for stage in ("collect", "tune", "evaluate"):
        app.command(name=stage)(make_stage(stage))

    @app.command(name="filter")
    def filter_cmd(
        arch: str = typer.Option(None, help=ARCH_HELP),
        config: Path = typer.Option(Path("regionadapt.toml"), "--config", "-c", help=CONFIG_HELP),
        force: bool = typer.Option(False, "--force", help="Rerun even if up to date."),
        run_dir: Path = typer.Option(
            None, help="Run directory (default: <run_root>/<region>-<arch>)."
        ),
        explain: str = typer.Option(
            None, metavar="SAMPLE_ID", help="Say why this sample was kept or dropped."
        ),
    ) -> None:
        """Run the filter stage alone, or explain one sample's fate with --explain."""
        project = _open(config, arch, run_dir)
        if explain is not None:
            from regionadapt.data import explain as explain_sample
            from regionadapt.lifecycle import require_finished

            require_finished(project, "filter")
            typer.echo(explain_sample(project.run.stage_dir("filter"), explain))
            return
        from regionadapt.lifecycle import run_stages

        _finish(project, run_stages(project, ["filter"], force_from="filter" if force else None))

    @app.command(name="merge")
    def merge_cmd(
        arch: str = typer.Option(None, help=ARCH_HELP),
        config: Path = typer.Option(
            Path("regionadapt.toml"),
            "--config",
            "-c",
            help="A project file (runs the merge stage) or a standalone merge file with `method` and [[models]] (merges any compatible checkpoints, like mergekit-yaml).",
        ),  # fmt: skip
        force: bool = typer.Option(False, "--force", help="Rerun even if up to date."),
        run_dir: Path = typer.Option(
            None, help="Run directory (default: <run_root>/<region>-<arch>)."
        ),
    ) -> None:
        """Run the merge stage (sweep b, choose by GRP), or a standalone merge from a merge file."""
        from regionadapt.errors import ConfigError
        from regionadapt.schema import read_toml

        data = read_toml(config, ConfigError)
        if "models" in data and "method" in data:
            from regionadapt.merge.standalone import run_config

            report = run_config(config)
            typer.echo(
                f"merged {report.tensors} tensors ({report.bytes_out / 1e9:.2f} GB) in {report.seconds:.1f}s"
            )
            return
        from regionadapt.lifecycle import run_stages

        project = _open(config, arch, run_dir)
        _finish(project, run_stages(project, ["merge"], force_from="merge" if force else None))

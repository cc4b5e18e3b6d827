"""``regionadapt adapt`` and the one-stage commands ``collect|filter|tune|merge|evaluate``."""

from __future__ import annotations

from pathlib import Path

import typer

ARCH_HELP = "Architecture: embedding, t2i or lvlm (default: the one the project file configures)."
CONFIG_HELP = "Project file written by `regionadapt init`."


def _open(config: Path, arch: str | None, run_dir: Path | None):
    from regionadapt.lifecycle import open_project
    from regionadapt.progress import quiet_third_party

    quiet_third_party()  # datasets' own bars would interleave with ours
    return open_project(config, arch, run_dir)


def _run(project, stages: list[str], force_from: str | None) -> tuple[dict[str, float], set[str]]:
    """Run the stages; also return those found up to date (their manifest record is unchanged)."""
    from regionadapt.lifecycle import run_stages

    before = project.run.manifest()
    timings = run_stages(project, stages, force_from=force_from)
    after = project.run.manifest()
    skipped = {s for s in timings if s in before and before[s] == after.get(s)}
    return timings, skipped


def _finish(project, ran: tuple[dict[str, float], set[str]]) -> None:
    from regionadapt.progress import human_duration
    from regionadapt.report import load_results, text_report

    timings, skipped = ran
    evaluated = project.run.stage_dir("evaluate")
    typer.echo("")
    if (evaluated / "results.json").exists():
        typer.echo(text_report(load_results(project.run.root)))
        typer.echo("")
    if skipped == set(timings):
        typer.echo(
            f"{', '.join(timings)}: up to date, skipped (--force to redo; `adapt --force STAGE` "
            "redoes a stage and every later one)"
        )
    else:
        typer.echo(
            "stage timings: "
            + ", ".join(
                f"{s} skipped (up to date)" if s in skipped else f"{s} {human_duration(t)}"
                for s, t in timings.items()
            )
        )
    reports = [evaluated / n for n in ("report.html", "report.md") if (evaluated / n).exists()]
    shown = f"  (report: {', '.join(map(str, reports))})" if reports else ""
    typer.echo(f"run directory: {project.run.root}{shown}")


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
        project = _open(config, arch, run_dir)
        _finish(project, _run(project, list(STAGES), force))

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
            project = _open(config, arch, run_dir)
            _finish(project, _run(project, [stage], stage if force else None))

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
            None,
            metavar="SAMPLE_ID",
            help="Say why this sample was kept or dropped. A pattern ('*', 'demo-sea-0001*') lists "
            "the matching sample ids with their fate.",
        ),
    ) -> None:
        """Run the filter stage alone, or explain one sample's fate with --explain."""
        project = _open(config, arch, run_dir)
        if explain is not None:
            from regionadapt.data.explain import explain as explain_sample
            from regionadapt.data.explain import is_pattern, list_ids
            from regionadapt.lifecycle import require_finished

            require_finished(project, "filter")
            folder = project.run.stage_dir("filter")
            typer.echo(
                list_ids(folder, explain)
                if is_pattern(explain)
                else explain_sample(folder, explain)
            )
            return
        _finish(project, _run(project, ["filter"], "filter" if force else None))

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
        project = _open(config, arch, run_dir)
        _finish(project, _run(project, ["merge"], "merge" if force else None))

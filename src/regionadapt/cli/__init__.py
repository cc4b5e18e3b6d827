"""The ``regionadapt`` command line. One module per command group; heavy libraries are
imported inside the commands that use them, so ``regionadapt --help`` stays instant."""

from __future__ import annotations

import sys

import typer

from regionadapt.errors import RegionAdaptError


def build_app() -> typer.Typer:
    from regionadapt.cli import init_cmd, plugins_cmd, regions_cmd, report_cmd, stages_cmd
    from regionadapt.plugins import load_plugins, pm

    app = typer.Typer(
        name="regionadapt",
        help="Adapt vision-language models to a region of the world while keeping their global "
        "quality (GG-EZ: collect -> filter -> tune -> merge -> evaluate).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    init_cmd.register(app)
    stages_cmd.register(app)
    report_cmd.register(app)
    app.add_typer(regions_cmd.app, name="regions")
    app.add_typer(plugins_cmd.app, name="plugins")
    load_plugins()
    pm.hook.register_commands(cli=app)
    return app


def main(argv: list[str] | None = None) -> None:
    app = build_app()
    try:
        app(args=argv, standalone_mode=False)
    except RegionAdaptError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(
            "interrupted: finished stages are kept; run the same command again to resume",
            file=sys.stderr,
        )
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors and aborts
        # Matched by shape, not class: typer >= 0.20 ships its own copy of click
        # (typer._click), whose exceptions are not click's.
        if callable(getattr(exc, "show", None)) and isinstance(
            getattr(exc, "exit_code", None), int
        ):
            exc.show()
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Abort":
            sys.exit(1)
        raise

"""The ``regionadapt`` command line. One module per command group; heavy libraries are
imported inside the commands that use them, so ``regionadapt --help`` stays instant.

The global behaviour lives here, one policy for every command: an error a user can act on is
one ``error:`` line (status 2; OS errors such as a full disk name the path and the stage,
status 1); a traceback only with ``--debug``; Ctrl-C and SIGTERM exit 130 with one line naming
the stage they stopped, after its temporary folder is removed.
"""

from __future__ import annotations

import os
import sys

import typer

from regionadapt.cli import interrupts
from regionadapt.errors import RegionAdaptError

HELP = (
    "Adapt vision-language models to a region of the world while keeping their global "
    "quality (GG-EZ: collect -> filter -> tune -> merge -> evaluate)."
)
# Options read before the app is built: plugins load (and may fail) while it is being built.
_EARLY = {"--debug", "--strict-plugins", "-q", "--quiet", "-v", "--verbose"}


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"regionadapt {version('regionadapt')}")
        except PackageNotFoundError:
            from regionadapt import __version__

            typer.echo(f"regionadapt {__version__}")
        raise typer.Exit()


def _global_options(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks (plugins' too)."),
    strict_plugins: bool = typer.Option(
        False, "--strict-plugins", help="Any plugin failure is an error (for CI)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only results and errors."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print more progress detail."),
) -> None:
    # Applied in main() before the app was built (see _apply_early); listed here for --help.
    if quiet and verbose:
        raise typer.BadParameter("--quiet and --verbose exclude each other")


def build_app() -> typer.Typer:
    from regionadapt.cli import init_cmd, plugins_cmd, regions_cmd, report_cmd, stages_cmd
    from regionadapt.plugins import add_commands

    app = typer.Typer(
        name="regionadapt",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_global_options)
    init_cmd.register(app)
    stages_cmd.register(app)
    report_cmd.register(app)
    app.add_typer(regions_cmd.app, name="regions")
    app.add_typer(plugins_cmd.app, name="plugins")
    add_commands(app)  # a plugin whose register_commands raises loses only its own commands
    return app


def _apply_early(argv: list[str]) -> None:
    """The global flags given before the command, applied before plugins load."""
    from regionadapt import plugins, verbosity

    leading = []
    for arg in argv:
        if not arg.startswith("-"):
            break
        leading.append(arg)
    flags = set(leading) & _EARLY
    if "--debug" in flags:
        os.environ[plugins.DEBUG_ENV] = "1"
    if "--strict-plugins" in flags:
        os.environ[plugins.STRICT_ENV] = "1"
    if flags & {"-q", "--quiet"}:
        verbosity.set_level(verbosity.QUIET)
    elif flags & {"-v", "--verbose"}:
        verbosity.set_level(verbosity.VERBOSE)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    _apply_early(argv)
    previous = interrupts.install()
    try:
        _run(argv)
    finally:
        interrupts.restore(previous)


def _run(argv: list[str]) -> None:
    command = next((a for a in argv if not a.startswith("-")), "")
    try:
        app = build_app()
        rc = app(args=argv, standalone_mode=False)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM outside a command (typer maps those to 130)
        interrupts.exit_interrupted(command)
    except RegionAdaptError as exc:
        _fail(f"error: {exc}", 2, exc)
    except OSError as exc:
        _fail(f"error: {interrupts.os_error_line(exc)}", 1, exc)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors and aborts, else a bug
        # Matched by shape, not class: typer >= 0.20 ships its own copy of click
        # (typer._click), whose exceptions are not click's.
        if callable(getattr(exc, "show", None)) and isinstance(
            getattr(exc, "exit_code", None), int
        ):
            exc.show()
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Abort":
            interrupts.exit_if_interrupted(command)
            sys.exit(1)
        _fail(f"error: unexpected {type(exc).__name__}: {exc}", 1, exc, bug=True)
    # typer returns 130 on Ctrl-C in standalone_mode=False instead of raising, and the exit code
    # of typer.Exit(n): neither may end as status 0.
    interrupts.exit_if_interrupted(command)
    if isinstance(rc, int) and rc:
        sys.exit(rc)


def _fail(line: str, code: int, exc: BaseException, bug: bool = False) -> None:
    from regionadapt.plugins import debug

    interrupts.cleanup()
    if debug():
        import traceback

        traceback.print_exception(exc)
    print(line, file=sys.stderr)
    if bug and not debug():
        print("(run again with --debug for the traceback)", file=sys.stderr)
    sys.exit(code)

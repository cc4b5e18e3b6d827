"""One interrupt policy for every command: Ctrl-C (SIGINT) and SIGTERM stop the work by raising
``KeyboardInterrupt`` where the program is, so that every ``finally`` and every stage's clean-up
runs; the CLI then removes what is left of the running stage and exits 130 with one line that
names the signal and the stage it stopped."""

from __future__ import annotations

import os
import signal
import sys
import threading

INTERRUPTED = 130
_received: dict[str, str | None] = {}
_owner: dict[
    str, int
] = {}  # the process that installed the handlers  # "signal" -> "SIGINT"/"SIGTERM", "stage" -> stage


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same clean-up runs."""


def _handler(signum: int, frame) -> None:
    if os.getpid() != _owner.get("pid"):
        # A forked worker (datasets' map, a process pool) inherited this handler: behave as
        # it would without us, so that its pool can stop it.
        if signum == signal.SIGINT:
            raise KeyboardInterrupt()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    from regionadapt.rundir import active_stage

    if "signal" not in _received:  # the first one names what was stopped
        _received["signal"] = signal.Signals(signum).name
        _received["stage"] = active_stage()
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def install() -> dict[int, object]:
    """Handle SIGINT and SIGTERM in this (main) thread (a no-op elsewhere); returns the
    handlers it replaced, for :func:`restore`."""
    _received.clear()
    if threading.current_thread() is not threading.main_thread():
        return {}
    _owner["pid"] = os.getpid()
    return {sig: signal.signal(sig, _handler) for sig in (signal.SIGINT, signal.SIGTERM)}


def restore(previous: dict[int, object]) -> None:
    """Put back the handlers :func:`install` replaced (``main()`` called in-process)."""
    for sig, handler in previous.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]


def cleanup() -> None:
    """Remove the temporary folders of stages that did not finish (their own clean-up may
    not have run if the interrupt landed in it)."""
    from regionadapt.rundir import remove_active

    remove_active()


def exit_interrupted(command: str = "") -> None:
    """One line naming the signal and what it stopped, then exit 130."""
    from regionadapt.rundir import active_stage

    name = _received.get("signal") or "SIGINT"
    stage = _received.get("stage") if "signal" in _received else active_stage()
    cleanup()
    if stage:
        line = (
            f"interrupted ({name}): stage {stage!r} stopped, its partial output removed; "
            "finished stages are kept; run the same command again to resume"
        )
    else:
        what = f"`regionadapt {command}`" if command else "regionadapt"
        line = f"interrupted ({name}): {what} stopped, no stage was running; nothing half-written is kept"
    print(line, file=sys.stderr, flush=True)
    sys.exit(INTERRUPTED)


def exit_if_interrupted(command: str = "") -> None:
    if "signal" in _received:
        exit_interrupted(command)


def os_error_line(exc: OSError) -> str:
    """A full disk, a read-only folder...: what failed, on which path, in which stage."""
    from regionadapt.errors import describe_os_error
    from regionadapt.rundir import stage_at_fault

    return describe_os_error(exc, *stage_at_fault())

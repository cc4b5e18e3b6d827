"""How much the tool says: -q/--quiet (-1), normal (0), -v/--verbose (1).

The CLI sets the level once, before any command runs; progress output reads it with
:func:`level`. It travels in ``REGIONADAPT_VERBOSITY`` so that worker processes (torchrun,
ray) that re-import regionadapt say as much as their parent.
"""

from __future__ import annotations

import os

QUIET, NORMAL, VERBOSE = -1, 0, 1
ENV = "REGIONADAPT_VERBOSITY"


def set_level(value: int) -> None:
    os.environ[ENV] = str(max(QUIET, min(VERBOSE, int(value))))


def level() -> int:
    try:
        return max(QUIET, min(VERBOSE, int(os.environ.get(ENV, NORMAL))))
    except ValueError:
        return NORMAL

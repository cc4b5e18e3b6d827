"""Minimal, dependency-free progress output on stderr (stdout stays for results)."""

from __future__ import annotations

import sys
import time

_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _T0:7.1f}s] {message}", file=sys.stderr, flush=True)

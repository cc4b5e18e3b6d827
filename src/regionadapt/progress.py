"""The one progress display of every long step (pretraining, tuning, merging, scoring).

Everything goes to stderr (stdout is for results). Three verbosity levels, set once by the CLI
(``-q`` / ``-v``) through :func:`set_verbosity`:

- ``quiet``: warnings and errors only; no bars, no progress lines.
- ``normal``: one line per event (:func:`log`) and one :class:`Progress` bar per long step.
- ``verbose``: also the details (:func:`detail`: per-step losses, per-candidate scores...).

A bar is a tqdm bar (tqdm is what the stack already uses: datasets, transformers and
huggingface_hub all draw theirs with it) with its rate and ETA when stderr is a terminal. When
it is not (a log file, CI, a test's captured output) the bar would be one unreadable line of
carriage returns, so it prints a plain line instead at most every ``LINE_EVERY_S`` seconds and
once at the end: a long step is never silent for minutes and never floods a log either.

Third-party bars (datasets' "Saving the dataset", "Flattening the indices"; the hub's
downloads) are switched off by :func:`quiet_third_party`: our own bar already says what runs.
Numbers on screen are rounded for people (:func:`human`); the JSON files keep them exact.
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any, TextIO

LEVELS = ("quiet", "normal", "verbose")
LINE_EVERY_S = 10.0

_T0 = time.monotonic()
_active: list[Progress] = []


def set_verbosity(level: str) -> None:
    """``"quiet"`` | ``"normal"`` | ``"verbose"``; also switches third-party bars off.

    The level itself lives in :mod:`regionadapt.verbosity` (what ``-q``/``-v`` set; it travels
    in the environment, so worker processes say as much as their parent)."""
    from regionadapt import verbosity as v

    if level not in LEVELS:
        raise ValueError(f"verbosity: expected one of {', '.join(LEVELS)}, got {level!r}")
    v.set_level({"quiet": v.QUIET, "normal": v.NORMAL, "verbose": v.VERBOSE}[level])
    quiet_third_party()


def verbosity() -> str:
    from regionadapt import verbosity as v

    return LEVELS[v.level() + 1]


def quiet_third_party() -> None:
    """Switch off the bars and info chatter of the libraries we call.

    The environment variables cover libraries not imported yet (they read them at import);
    the calls cover those already imported. Cheap: nothing is imported here."""
    for var in ("HF_DATASETS_DISABLE_PROGRESS_BARS", "HF_HUB_DISABLE_PROGRESS_BARS"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    mods = sys.modules
    if "datasets" in mods:
        mods["datasets"].disable_progress_bars()
        mods["datasets"].logging.set_verbosity_error()
    if "huggingface_hub" in mods:
        mods["huggingface_hub"].utils.disable_progress_bars()
    if "transformers" in mods:
        mods["transformers"].logging.set_verbosity_error()
        mods["transformers"].logging.disable_progress_bar()


def _stamp(message: str) -> str:
    return f"[{human_duration(time.monotonic() - _T0, clock=True)}] {message}"


def _emit(line: str, file: TextIO | None = None) -> None:
    file = file or sys.stderr
    live = [p for p in _active if p._bar is not None]
    if live:  # printed above the bar, which is then redrawn: never onto its end
        live[0]._bar.write(line, file=file)
    else:
        print(line, file=file, flush=True)


def log(message: str) -> None:
    """One event, for people (hidden when quiet)."""
    if verbosity() != "quiet":
        _emit(_stamp(message))


def detail(message: str) -> None:
    """A detail shown only with ``-v``."""
    if verbosity() == "verbose":
        _emit(_stamp(message))


def warn(message: str) -> None:
    """Shown at every level."""
    _emit(_stamp(f"warning: {message}"))


def human(x: Any, digits: int = 3) -> str:
    """A number for people: 14.660141944885254 -> '14.7', 0.90151 -> '0.902', 1234567 -> '1234567'.

    ``digits`` significant digits for floats (integers and integral floats stay whole)."""
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if not math.isfinite(x):
        return str(x)
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    if abs(x) >= 10**digits:
        return str(round(x))
    return f"{x:.{digits}g}"


def human_duration(seconds: float, clock: bool = False) -> str:
    """62.3 -> '1m02s'; 5.25 -> '5.2s'. ``clock``: fixed width for line stamps."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    if clock:
        return f"{seconds:7.1f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(round(seconds)), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


class Progress:
    """A counted long step: ``with Progress(400, "tune", "step") as p: ... p.update(loss=x)``.

    ``total`` may be None when unknown (no ETA then). ``postfix`` values (a loss...) are shown
    rounded. ``file`` and ``tty`` are for tests; by default stderr and whether it is a terminal.
    ``sink`` receives the plain status lines instead of ``file`` (a DDP worker forwards them to
    the parent through its own log).
    """

    def __init__(
        self,
        total: int | None,
        desc: str,
        unit: str = "it",
        *,
        file: TextIO | None = None,
        tty: bool | None = None,
        line_every: float = LINE_EVERY_S,
        sink: Any = None,
    ) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.n = 0
        self.postfix: dict[str, Any] = {}
        self._file = file or sys.stderr
        self._t0 = time.monotonic()
        self._last_line = self._t0
        self._line_every = line_every
        self._bar = None
        self._sink = sink
        if tty is None:
            tty = bool(getattr(self._file, "isatty", lambda: False)())
        self._mode = "off" if verbosity() == "quiet" else ("bar" if tty else "lines")
        if self._mode == "bar":
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total,
                desc=desc,
                unit=f" {unit}",
                file=self._file,
                dynamic_ncols=True,
                leave=True,
            )
        _active.append(self)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close(done=exc[0] is None)

    def update(self, n: int = 1, **postfix: Any) -> None:
        self.n += n
        if postfix:
            self.postfix.update(postfix)
        if self._bar is not None:
            if postfix:
                self._bar.set_postfix_str(self._postfix_text(), refresh=False)
            self._bar.update(n)
        elif self._mode == "lines":
            now = time.monotonic()
            done = self.total is not None and self.n >= self.total  # close() says it once
            if now - self._last_line >= self._line_every and not done:
                self._last_line = now
                self._line(self.status())

    def write(self, message: str) -> None:
        """A line printed above the bar (never onto it); respects the verbosity level."""
        log(message)

    def _postfix_text(self) -> str:
        return ", ".join(f"{k} {human(v)}" for k, v in self.postfix.items())

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def rate(self) -> float | None:
        t = self.elapsed()
        return self.n / t if t > 0 and self.n else None

    def eta(self) -> float | None:
        r = self.rate()
        if r is None or self.total is None:
            return None
        return max(0.0, (self.total - self.n) / r)

    def status(self) -> str:
        """'tune: 120/400 steps (30%), 2.1 steps/s, ETA 2m13s, loss 1.79'."""
        unit = self.unit + ("s" if self.unit and not self.unit.endswith("s") else "")
        if self.total:
            head = f"{self.desc}: {self.n}/{self.total} {unit} ({100 * self.n / self.total:.0f}%)"
        else:
            head = f"{self.desc}: {self.n} {unit}"
        parts = [head]
        r = self.rate()
        if r is not None:
            parts.append(
                f"{human(r, 2)} {unit}/s" if r >= 1 else f"{human(1 / r, 2)} s/{self.unit}"
            )
        if self.total and self.n < self.total and self.eta() is not None:
            parts.append(f"ETA {human_duration(self.eta())}")
        if self.postfix:
            parts.append(self._postfix_text())
        return ", ".join(parts)

    def close(self, done: bool = True) -> None:
        if self in _active:
            _active.remove(self)
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._mode == "lines" and self.n:
            tail = f" in {human_duration(self.elapsed())}" if done else " (stopped)"
            self._line(self.status() + tail)
        self._mode = "off"

    def _line(self, text: str) -> None:
        if self._sink is not None:
            self._sink(text)
        else:
            print(_stamp(text), file=self._file, flush=True)

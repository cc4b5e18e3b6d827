"""regionadapt-example-plugin: one filter, two stage observers and one CLI command.

Everything a plugin needs is here; docs/plugin-authors.md walks through it. regionadapt finds
this module through the ``regionadapt`` entry point declared in pyproject.toml and calls the
``@hookimpl`` functions below by name.

Keep the top of a plugin module light (no torch, transformers, datasets...): it is imported
every time ``regionadapt`` starts, even for ``regionadapt --help``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any, ClassVar

import typer  # light, and already imported by the CLI; needed at module level (see below)
from pydantic import Field

from regionadapt.components import Context, Filter
from regionadapt.hookspecs import hookimpl
from regionadapt.schema import Strict

LOG_NAME = "stage-log.jsonl"


# --------------------------------------------------------------------------------------------
# A filter: keep captions with enough words, counting scripts without spaces fairly.


class MinCaptionWords(Filter):
    """Drops samples whose caption is too short to teach the model anything."""

    name: ClassVar[str] = "min-caption-words"
    description: ClassVar[str] = (
        "Drops samples whose caption has fewer than `min_words` words. Captions in a language "
        "the region pack marks as unspaced (Thai, Lao, Khmer, Burmese, Chinese...) are counted "
        "as characters / `chars_per_word`."
    )

    class Params(Strict):
        min_words: int = Field(default=3, ge=1, description="Fewest words a caption may have.")
        chars_per_word: float = Field(
            default=3.0, gt=0, description="Characters that count as one word in unspaced scripts."
        )

    def setup(self, ctx: Context) -> None:
        # Read the region from the pack, never hard-code it: the same plugin serves any region.
        self._unspaced = {lang.code for lang in ctx.pack.languages if not lang.spaced}

    def words(self, text: str, lang: str) -> float:
        if lang in self._unspaced:
            return len("".join(text.split())) / self.params.chars_per_word
        return len(text.split())

    def keep(self, sample: dict[str, Any]) -> bool | tuple[bool, str]:
        n = self.words(sample.get("text") or "", sample.get("lang") or "")
        if n < self.params.min_words:
            # A reason starts with a short code; the filter stage counts drops by it.
            return False, f"too-few-words: {n:g} < {self.params.min_words}"
        return True


@hookimpl
def register_filters(register):
    register(MinCaptionWords)


# --------------------------------------------------------------------------------------------
# Observers: one JSON line per stage event, in the run directory.


def _append(run_root: Path, record: dict[str, Any]) -> None:
    run_root.mkdir(parents=True, exist_ok=True)
    with open(run_root / LOG_NAME, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")


@hookimpl
def stage_started(stage, run):
    _append(run.root, {"event": "started", "stage": stage, "time": time.time()})


@hookimpl
def stage_finished(stage, run, record):
    _append(
        run.root,
        {
            "event": "finished",
            "stage": stage,
            "status": record.status,
            "seconds": record.seconds,
            "error": record.error,
            "time": time.time(),
        },
    )


# --------------------------------------------------------------------------------------------
# A CLI command: `regionadapt stage-log RUN_DIR`. Typer reads the parameter annotations at
# run time; with `from __future__ import annotations` they are strings evaluated in the module's
# globals, so `typer` and `Path` must be imported at module level, not inside the hook.


@hookimpl
def register_commands(cli):
    @cli.command(name="stage-log")
    def stage_log(run_dir: Annotated[Path, typer.Argument(help="A run directory.")]) -> None:
        """Print the stage events the example plugin logged in RUN_DIR."""
        path = run_dir / LOG_NAME
        if not path.exists():
            raise typer.BadParameter(f"{path} does not exist; run a stage first")
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            status = rec.get("status", "")
            typer.echo(f"{rec['stage']:<9} {rec['event']:<9} {status}".rstrip())

"""Shared helpers for validating TOML files with pydantic and reporting errors by key path."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base for every schema: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def key_path(loc: tuple[Any, ...]) -> str:
    """('lexicon', 3, 'forms') -> 'lexicon[3].forms'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def describe_errors(source: str, exc: ValidationError, prefix: tuple[Any, ...] = ()) -> str:
    lines = []
    for err in exc.errors():
        loc = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see the reference for valid keys)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
            if not loc:
                # A whole-file check (cross-references): each problem already names its key.
                lines.extend(f"{source}: {part}" for part in msg.split("; "))
                continue
        got = err.get("input")
        shown = (
            ""
            if err["type"] in ("missing", "extra_forbidden") or isinstance(got, dict)
            else f" (got {got!r})"
        )
        if len(shown) > 120:  # a whole table echoed back hides the message
            shown = ""
        lines.append(f"{source}: {key_path(loc)}: {msg}{shown}")
    return "\n".join(lines)


def read_toml(path: Path, error_cls: type[Exception]) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise error_cls(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise error_cls(f"{path}: not valid TOML: {exc}") from None


def validate(model: type[M], data: dict[str, Any], source: str, error_cls: type[Exception]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error_cls(describe_errors(source, exc)) from None

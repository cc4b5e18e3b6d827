"""Shared helpers for validating TOML files with pydantic and reporting errors by key path."""

from __future__ import annotations

import json
import sys
import types
import typing
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base for every schema: unknown keys are errors (a typo must not be silently ignored),
    and so is a value of the wrong TOML type where pydantic would convert it: ``lr = "3e-3"``,
    ``epochs = "8"``, ``keep_candidates = "no"`` or ``= 1`` are refused naming the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _toml_types(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is not None:
            _check_type(value, _leaves(field.annotation))
        return value


_INT, _NUMBER, _BOOL, _NONE, _OTHER = "int", "number", "bool", "none", "other"
_SEQUENCES = (list, tuple, set, frozenset)


def _leaves(annotation: Any) -> dict[str, Any]:
    """What an annotation accepts, flattened: {"kinds": {...}, "items": leaves of a list's items}.
    Only plain numbers, bools and None (and lists of them) are checked; anything else (str,
    paths, literals, models, Any) counts as "other" and is left to pydantic."""
    kinds: set[str] = set()
    items: dict[str, Any] | None = None
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _leaves(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            sub = _leaves(arg)
            kinds |= sub["kinds"]
            items = items or sub["items"]
        return {"kinds": kinds, "items": items}
    if origin in _SEQUENCES or annotation in _SEQUENCES:
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        inner = [_leaves(a) for a in args]
        merged = {k for i in inner for k in i["kinds"]} or {_OTHER}
        return {"kinds": {"sequence"}, "items": {"kinds": merged, "items": None}}
    if annotation is bool:
        return {"kinds": {_BOOL}, "items": None}
    if annotation is int:
        return {"kinds": {_INT}, "items": None}
    if annotation is float:
        return {"kinds": {_NUMBER}, "items": None}
    if annotation is type(None):
        return {"kinds": {_NONE}, "items": None}
    return {"kinds": {_OTHER}, "items": None}  # str, Path, Literal, a model, Any...


def _check_type(value: Any, accepts: dict[str, Any]) -> None:
    kinds = accepts["kinds"]
    if _OTHER in kinds:
        return
    if "sequence" in kinds and isinstance(value, _SEQUENCES) and accepts["items"]:
        for item in value:
            _check_type(item, accepts["items"])
        return
    numeric = kinds & {_INT, _NUMBER}
    want = "a number" if _NUMBER in kinds else "an integer" if numeric else "true or false"
    if isinstance(value, str) and kinds & {_INT, _NUMBER, _BOOL}:
        raise ValueError(f"expected {want}, not a string (write it without quotes)")
    if isinstance(value, bool) and _BOOL not in kinds and numeric:
        raise ValueError(f"expected {want}, not true/false")
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and _BOOL in kinds and not numeric:
        raise ValueError("expected true or false, not a number")


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
            if err["type"] in ("missing", "extra_forbidden")
            or isinstance(got, dict)
            or "got " in msg  # the message already shows the value
            else f" (got {_toml(got)})"
        )
        if len(shown) > 120:  # a whole table echoed back hides the message
            shown = ""
        lines.append(f"{source}: {key_path(loc)}: {msg}{shown}")
    return "\n".join(lines)


def _toml(value: Any) -> str:
    """A value as TOML writes it (true, 'text', [0.25, 1.5]), not as Python does (True, None)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'" if "'" not in value and "\n" not in value else json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if value is None:
        return "nothing"
    return repr(value)


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

"""Strict TOML types: a value of the wrong type is refused naming the key, never converted."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import Field

from regionadapt.errors import ConfigError
from regionadapt.schema import Strict, validate


class Inner(Strict):
    ratio: float = 0.5


class Params(Strict):
    lr: float = 1e-3
    epochs: int = 1
    keep: bool = False
    clip: float | None = None
    grid: list[float] = Field(default_factory=lambda: [0.5])
    sizes: tuple[int, ...] = (1,)
    name: str = "x"
    path: Path = Path(".")
    mode: Literal["a", "b"] = "a"
    either: int | str = 0
    bounded: Annotated[float, Field(ge=0)] = 0.0
    inner: Inner = Field(default_factory=Inner)


def _error(data):
    with pytest.raises(ConfigError) as err:
        validate(Params, data, "p.toml [tune]", ConfigError)
    return str(err.value)


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"lr": "3e-3"}, "p.toml [tune]: lr: expected a number, not a string (write it without quotes) (got '3e-3')"),
        ({"epochs": "8"}, "p.toml [tune]: epochs: expected an integer, not a string"),
        ({"keep": "no"}, "p.toml [tune]: keep: expected true or false, not a string"),
        ({"keep": 1}, "p.toml [tune]: keep: expected true or false, not a number (got 1)"),
        ({"lr": True}, "p.toml [tune]: lr: expected a number, not true/false (got true)"),
        ({"clip": "1.0"}, "p.toml [tune]: clip: expected a number"),
        ({"grid": [0.25, "0.5"]}, "p.toml [tune]: grid: expected a number, not a string"),
        ({"sizes": ["2"]}, "p.toml [tune]: sizes: expected an integer"),
        ({"bounded": "1"}, "p.toml [tune]: bounded: expected a number"),
        ({"inner": {"ratio": "0.1"}}, "p.toml [tune]: inner.ratio: expected a number"),
    ],
)  # fmt: skip
def test_wrong_toml_type_is_refused_naming_the_key(data, expected):
    assert expected in _error(data)


def test_right_types_and_lax_fields_still_pass():
    p = validate(
        Params,
        {"lr": 3e-3, "epochs": 8, "keep": True, "clip": None, "grid": [0, 0.5, 1], "sizes": [2, 3],
         "name": "y", "path": "a/b", "mode": "b", "either": "text", "bounded": 2, "inner": {"ratio": 1}},
        "p.toml", ConfigError,
    )  # fmt: skip
    assert p.lr == 3e-3 and p.epochs == 8 and p.keep is True and p.grid == [0.0, 0.5, 1.0]
    assert p.path == Path("a/b") and p.sizes == (2, 3) and p.either == "text"
    assert isinstance(p.bounded, float) and p.inner.ratio == 1.0  # an integer is a number


def test_a_message_that_shows_the_value_is_not_followed_by_it_again():
    from pydantic import field_validator

    class Ratios(Strict):
        grid: list[float]

        @field_validator("grid")
        @classmethod
        def _in_range(cls, v):
            bad = [b for b in v if not 0 <= b <= 1]
            if bad:
                raise ValueError(f"merge ratios must be in [0, 1]; got {bad}")
            return v

    with pytest.raises(ConfigError) as err:
        validate(Ratios, {"grid": [0.25, 1.5]}, "c.toml", ConfigError)
    assert str(err.value) == "c.toml: grid: merge ratios must be in [0, 1]; got [1.5]"


def test_project_file_with_a_quoted_number_names_the_key(tmp_path):
    import re

    from regionadapt.init_template import render
    from regionadapt.lifecycle import open_project
    from regionadapt.packs import get_pack

    text = render(get_pack("sea"), "sea", None)
    path = tmp_path / "regionadapt.toml"
    path.write_text(text)
    open_project(path, "embedding")  # as written: valid
    quoted, n = re.subn(r"^lr = ([0-9.e-]+)", r'lr = "\1"', text, flags=re.M)
    assert n == 1
    path.write_text(quoted)
    with pytest.raises(ConfigError, match=r"\[embedding\.tune\]: lr: expected a number"):
        open_project(path, "embedding")

"""Lazy public names for plugin packages: ``__getattr__ = lazy_exports(__name__, {...})``.

A plugin's ``__init__`` is imported whenever the plugin manager starts (every CLI call), so it
must not import torch or the model library it wraps. Its public names are listed with the
submodule that defines each, and imported only when first used (PEP 562).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``package.<names[name]>`` on first use of ``name``."""

    def __getattr__(name: str) -> Any:
        if name in names:
            module = importlib.import_module(f"{package}.{names[name]}")
            return getattr(module, name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__

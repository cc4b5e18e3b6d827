"""The diffusers text-to-image backend (architecture ``t2i``).

Registered through the ``regionadapt`` entry point ``diffusers``. This module stays free of
torch and diffusers: the public names are loaded from their submodules on first use.

Public API::

    load_pipeline(spec, precision=..., ...) -> diffusers pipeline   # hub id, folder, .safetensors
    DiffusersGenerator(pipe, resolution, ...)                       # the ImageGenerator handle
    train_unet(pipe, cached, TuneParams(...), ckpt_dir, key)        # the tuning loop
    DiffusersBackend                                                # the regionadapt Backend
"""

from __future__ import annotations

import importlib
from typing import Any

from regionadapt.hookspecs import hookimpl

_LAZY = {
    "load_pipeline": "model",
    "save_pipeline": "model",
    "DiffusersGenerator": "model",
    "train_unet": "train",
    "ModelParams": "params",
    "TuneParams": "params",
    "DiffusersBackend": "backend",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@hookimpl
def register_backends(register) -> None:
    from regionadapt_plugins.diffusers_backend.backend import DiffusersBackend

    register(DiffusersBackend)

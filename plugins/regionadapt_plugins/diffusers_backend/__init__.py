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

from regionadapt.hookspecs import hookimpl
from regionadapt.lazy import lazy_exports

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

__getattr__ = lazy_exports(__name__, _LAZY)


@hookimpl
def register_backends(register) -> None:
    from regionadapt_plugins.diffusers_backend.backend import DiffusersBackend

    register(DiffusersBackend)

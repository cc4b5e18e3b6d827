"""The open_clip embedding backend (architecture ``embedding``).

Registered through the ``regionadapt`` entry point ``open_clip``. This module stays free of
torch and open_clip: the public functions are loaded from their submodules on first use.

Public API::

    create_model(model_cfg) -> EmbeddingModel          # random init from an open_clip config dict
    load_model(spec, pretrained=None, device, precision) -> EmbeddingModel
    save_checkpoint(model, out_dir)                    # open_clip hub layout, safetensors
    train_contrastive(model, dataset, TuneParams(...)) -> summary dict
    OpenClipBackend                                    # the regionadapt Backend component
"""

from __future__ import annotations

from regionadapt.hookspecs import hookimpl
from regionadapt.lazy import lazy_exports

_LAZY = {
    "EmbeddingModel": "model",
    "create_model": "model",
    "load_model": "model",
    "save_checkpoint": "model",
    "CONFIG_NAME": "model",
    "WEIGHTS_NAME": "model",
    "train_contrastive": "train",
    "TuneParams": "params",
    "ModelParams": "params",
    "OpenClipBackend": "backend",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_exports(__name__, _LAZY)


@hookimpl
def register_backends(register) -> None:
    from regionadapt_plugins.openclip_backend.backend import OpenClipBackend

    register(OpenClipBackend)

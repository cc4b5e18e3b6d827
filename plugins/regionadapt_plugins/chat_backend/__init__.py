"""The transformers chat backend (architecture ``lvlm``): vision-language chat models.

Registered through the ``regionadapt`` entry point ``transformers_chat``. This module stays free
of torch and transformers: the public names are loaded from their submodules on first use.

Public API::

    load_handle(spec) -> TransformersChatModel        # a ChatModel handle for a folder / hub id
    load_model(spec, ...), load_processor(spec, ...)  # the Auto classes, with the input checks
    train_chat(model, processor, dataset, TuneParams(...)) -> (network, summary)
    TransformersChatBackend                           # the regionadapt Backend component
"""

from __future__ import annotations

from regionadapt.hookspecs import hookimpl
from regionadapt.lazy import lazy_exports

_LAZY = {
    "ModelParams": "params",
    "TuneParams": "params",
    "load_model": "model",
    "load_processor": "model",
    "save_model": "model",
    "TransformersChatModel": "handle",
    "train_chat": "train",
    "load_handle": "backend",
    "TransformersChatBackend": "backend",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_exports(__name__, _LAZY)


@hookimpl
def register_backends(register) -> None:
    from regionadapt_plugins.chat_backend.backend import TransformersChatBackend

    register(TransformersChatBackend)

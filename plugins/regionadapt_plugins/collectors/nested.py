"""Collectors that wrap another collector (translate, dual-caption) name it the way a config
does: ``source = {collector = "files", params = {...}}``; built through the registry so a
plugin collector works as a source too."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from regionadapt.components import Collector, build
from regionadapt.schema import Strict


class SourceSpec(Strict):
    """The wrapped collector: its registered name and its params."""

    collector: str
    params: dict[str, Any] = Field(default_factory=dict)


def build_source(spec: SourceSpec, owner: str) -> Collector:
    """Instantiate the wrapped collector; errors name ``<owner>.source``."""
    return build("collectors", spec.collector, spec.params, where=f"{owner}.source.params")


def pick_device(device: str) -> str:
    """``auto``: the GPU when torch sees one, else the CPU."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"

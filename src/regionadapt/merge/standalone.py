"""Standalone merges from a TOML file (``regionadapt merge --config merge.toml``), no run folder.

    method = "ties"
    dtype = "bfloat16"          # optional; default: the inputs' dtype (which must agree)
    output = "out/merged"
    base = "models/base"        # when the method needs one
    seed = 0                    # optional (DARE)
    files = ["unet/diffusion_pytorch_model.safetensors"]   # optional; default: every weight file
    max_shard_bytes = 5368709120                           # optional
    overwrite = false                                      # optional
    workers = 2                 # optional; tensors merged at once (default: CPUs, at most 4)
    [params]
    density = 0.5
    [[models]]
    path = "models/a"
    weight = 0.7
    [[models]]
    path = "models/b"
    weight = 0.3

Relative paths are taken from the folder holding the config file, so a config means the same
thing whatever the current directory. Every error names the file and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from regionadapt.errors import ConfigError, MergeError
from regionadapt.merge.engine import MergeReport, get_method, merge_checkpoints
from regionadapt.schema import Strict, read_toml, validate


class ModelEntry(Strict):
    path: str
    weight: float | None = None


class MergeConfig(Strict):
    method: str
    output: str
    models: list[ModelEntry] = Field(min_length=1)
    base: str | None = None
    dtype: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int = 0
    files: list[str] | None = None
    max_shard_bytes: int = Field(5 * 2**30, gt=0)
    overwrite: bool = False
    workers: int | None = Field(None, ge=1)


def load_config(path: Path) -> MergeConfig:
    """Read and validate a merge config (ConfigError names the file and key)."""
    path = Path(path)
    cfg = validate(MergeConfig, read_toml(path, ConfigError), str(path), ConfigError)
    given = [m.weight is not None for m in cfg.models]
    if any(given) and not all(given):
        i = given.index(False)
        raise ConfigError(f"{path}: models[{i}].weight: give a weight for every model or for none")
    return cfg


def run_config(path: Path) -> MergeReport:
    """Merge the checkpoints a TOML config names; see the module docstring for the format."""
    path = Path(path)
    cfg = load_config(path)
    root = path.parent

    def resolve(p: str) -> Path:
        q = Path(p).expanduser()
        return q if q.is_absolute() else root / q

    weights = [m.weight for m in cfg.models] if cfg.models[0].weight is not None else None
    try:
        get_method(cfg.method, cfg.params, where=f"{path}: params")  # names file and key
        return merge_checkpoints(
            cfg.method,
            [resolve(m.path) for m in cfg.models],
            resolve(cfg.output),
            base=resolve(cfg.base) if cfg.base else None,
            weights=weights,  # type: ignore[arg-type]
            params=cfg.params,
            dtype=cfg.dtype,
            files=cfg.files,
            max_shard_bytes=cfg.max_shard_bytes,
            seed=cfg.seed,
            overwrite=cfg.overwrite,
            workers=cfg.workers,
        )
    except MergeError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise MergeError(f"{path}: {exc}") from None

"""Helpers shared by the merge tests: random checkpoints written as real safetensors files."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file


def random_state(seed: int, dtype=torch.float32, shapes=None) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shapes = shapes or {"a.weight": (16, 8), "a.bias": (16,), "b.weight": (4, 16), "c.scale": ()}
    return {k: torch.randn(s, generator=g).to(dtype) for k, s in shapes.items()}


def save_single(
    state: dict[str, torch.Tensor], folder: Path, name: str = "model.safetensors"
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.contiguous() for k, v in state.items()}, str(folder / name), metadata={"format": "pt"}
    )
    return folder


def save_sharded(
    state: dict[str, torch.Tensor], folder: Path, n_shards: int, stem: str = "model"
) -> Path:
    """Shards the way transformers does: <stem>-0000i-of-0000n.safetensors + an index."""
    folder.mkdir(parents=True, exist_ok=True)
    keys = list(state)
    per = -(-len(keys) // n_shards)
    weight_map = {}
    for i in range(n_shards):
        part = keys[i * per : (i + 1) * per]
        name = f"{stem}-{i + 1:05d}-of-{n_shards:05d}.safetensors"
        save_file(
            {k: state[k].contiguous() for k in part}, str(folder / name), metadata={"format": "pt"}
        )
        weight_map.update({k: name for k in part})
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (folder / f"{stem}.safetensors.index.json").write_text(json.dumps(index))
    return folder


def load_folder(folder: Path, logical: str = "model.safetensors") -> dict[str, torch.Tensor]:
    """Load a (possibly sharded) weight unit with the real safetensors loader."""
    from safetensors.torch import load_file

    index = folder / f"{logical}.index.json"
    if index.exists():
        out = {}
        for shard in sorted(set(json.loads(index.read_text())["weight_map"].values())):
            out.update(load_file(str(folder / Path(logical).parent / shard)))
        return out
    return load_file(str(folder / logical))

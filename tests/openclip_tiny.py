"""A tiny open_clip model and a learnable image/text data set, built in code (no downloads)."""

from __future__ import annotations

import copy
import io

import numpy as np

TINY_CFG = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 32, "patch_size": 8, "width": 64, "layers": 2, "head_width": 32},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}

COLORS = {
    "red": (220, 30, 30),
    "green": (30, 200, 30),
    "blue": (30, 30, 220),
    "yellow": (230, 220, 30),
}


def tiny_cfg() -> dict:
    return copy.deepcopy(TINY_CFG)


def png(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def square_rows(n: int, seed: int = 0) -> list[dict]:
    """Noisy coloured squares captioned with their colour: a task a tiny CLIP learns fast."""
    rng = np.random.default_rng(seed)
    rows = []
    names = list(COLORS)
    for i in range(n):
        name = names[i % len(names)]
        base = np.zeros((32, 32, 3), np.int16) + np.array(COLORS[name], np.int16)
        noisy = np.clip(base + rng.integers(-25, 25, base.shape), 0, 255).astype(np.uint8)
        rows.append({"id": f"s{i}", "image": png(noisy), "text": f"a photo of a {name} square"})
    return rows


def dataset(rows: list[dict]):
    import datasets

    return datasets.Dataset.from_list(rows)


# -- the kit the backend contract test calls (tests/test_backend_contract.py) ---------------


def tiny_base(tmp_path) -> dict:
    """ModelParams values naming a tiny open_clip checkpoint saved under ``tmp_path``."""
    import torch
    from regionadapt_plugins.openclip_backend import create_model, save_checkpoint

    torch.manual_seed(0)
    save_checkpoint(create_model(tiny_cfg()), tmp_path / "tiny-open-clip")
    return {"model": str(tmp_path / "tiny-open-clip")}


def tiny_train_data(tmp_path):
    """A saved sample collection the backend can tune on."""
    path = tmp_path / "tiny-squares"
    dataset(square_rows(32)).save_to_disk(str(path))
    return path


def tiny_tune_params() -> dict:
    return {"epochs": 1, "batch_size": 16, "lr": 1e-3, "log_every": 1000}


def probe(handle):
    """Outputs that differ when the weights differ (compared across loads)."""
    return handle.encode_texts(["a photo of a red square", "a photo of a blue square"])

"""Training data for contrastive tuning: open the sample dataset, decode images, plan batches.

Two ways to feed the model, chosen by size. Small data (the demo world, most regional sets) is
decoded and preprocessed once into one pixel tensor, so a training step costs only the model;
large data is decoded on the fly by a DataLoader. Either way a corrupt or missing image is
skipped and counted, never a crash.

Batches are planned over the *global* batch: one seeded permutation per epoch, cut into
global batches, each cut into equal per-process slices. The concatenation of the slices is
exactly the batch one process would see, so the number of processes changes speed, not maths.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from regionadapt.errors import StageError

IMAGE_COLUMNS = ("image", "image_path")


def open_dataset(dataset: Any) -> Any:
    """An HF ``datasets.Dataset`` from a Dataset or a folder written by ``save_to_disk``."""
    import datasets

    where = "training data"
    if isinstance(dataset, (str, Path)):
        where = str(dataset)
        if not Path(dataset).exists():
            raise StageError(f"{where}: training data set not found")
        try:
            dataset = datasets.load_from_disk(str(dataset))
        except Exception as exc:  # not a save_to_disk folder
            raise StageError(f"{where}: not a data set saved with save_to_disk: {exc}") from None
    if isinstance(dataset, datasets.DatasetDict):
        if "train" not in dataset:
            raise StageError(f"{where}: a DatasetDict without a 'train' split ({list(dataset)})")
        dataset = dataset["train"]
    columns = set(dataset.column_names)
    if "text" not in columns or not columns.intersection(IMAGE_COLUMNS):
        raise StageError(
            f"{where}: expected columns 'text' and 'image' (encoded bytes) or 'image_path'; "
            f"got {sorted(columns)}"
        )
    if len(dataset) == 0:
        raise StageError(f"{where}: the training data set is empty")
    return dataset


def decode_image(image: Any, image_path: str | None) -> Any:
    """A loaded PIL image from bytes, a datasets Image dict, a PIL image or a path."""
    from regionadapt.data.images import to_pil

    return to_pil(image, image_path)


def _columns(dataset: Any) -> list[str]:
    return [c for c in ("image", "image_path", "text") if c in dataset.column_names]


@dataclass
class Preloaded:
    """Every usable sample, preprocessed: pixels [N, 3, H, W] float32 and tokens [N, L]."""

    pixels: torch.Tensor
    tokens: torch.Tensor
    skipped: int


def preload(
    dataset: Any,
    preprocess: Callable[[Any], torch.Tensor],
    tokenizer: Callable[..., torch.Tensor],
    chunk: int = 512,
) -> Preloaded:
    pixels: list[torch.Tensor] = []
    texts: list[str] = []
    skipped = 0
    for batch in dataset.select_columns(_columns(dataset)).iter(batch_size=chunk):
        n = len(batch["text"])
        images = batch.get("image", [None] * n)
        paths = batch.get("image_path", [None] * n)
        for image, path, text in zip(images, paths, batch["text"], strict=True):
            try:
                pixels.append(preprocess(decode_image(image, path)))
            except Exception:  # corrupt, truncated, missing: skip and count
                skipped += 1
                continue
            texts.append(text or "")
    if not pixels:
        raise StageError(f"none of the {len(dataset)} training images could be decoded")
    return Preloaded(torch.stack(pixels), tokenizer(texts), skipped)


def preload_bytes(n: int, image_size: Any) -> int:
    h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    return n * 3 * h * w * 4


class StreamingImages(torch.utils.data.Dataset):
    """Decodes one sample at a time; a bad image yields None (dropped and counted by collate)."""

    def __init__(self, dataset: Any, preprocess: Callable[[Any], torch.Tensor]) -> None:
        self.dataset = dataset.select_columns(_columns(dataset))
        self.preprocess = preprocess

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str] | None:
        row = self.dataset[int(index)]
        try:
            pixels = self.preprocess(decode_image(row.get("image"), row.get("image_path")))
        except Exception:
            return None
        return pixels, row["text"] or ""


class Collate:
    def __init__(self, tokenizer: Callable[..., torch.Tensor]) -> None:
        self.tokenizer = tokenizer

    def __call__(self, items: list[Any]) -> tuple[torch.Tensor, torch.Tensor, int]:
        good = [it for it in items if it is not None]
        skipped = len(items) - len(good)
        if not good:
            return torch.empty(0), torch.empty(0, dtype=torch.long), skipped
        pixels = torch.stack([p for p, _ in good])
        return pixels, self.tokenizer([t for _, t in good]), skipped


def plan_epoch(
    n: int, batch_size: int, world: int, rank: int, epoch: int, seed: int
) -> list[torch.Tensor]:
    """This process's index slices for one epoch (identical count on every process).

    A trailing partial global batch is kept with an equal share per process; the few indices
    that do not divide evenly are left out of that epoch (another order next epoch).
    """
    gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(n, generator=gen)
    out = []
    for start in range(0, n, batch_size):
        chunk = order[start : start + batch_size]
        per = len(chunk) // world
        if per * world < 2:  # a contrastive batch needs at least one negative
            continue
        out.append(chunk[rank * per : (rank + 1) * per])
    return out


def steps_per_epoch(n: int, batch_size: int, world: int) -> int:
    full, rest = divmod(n, batch_size)
    return full + (1 if (rest // world) * world >= 2 else 0) if n else 0


def total_steps(
    n: int, batch_size: int, world: int, epochs: int, max_steps: int | None
) -> tuple[int, int]:
    """(optimizer steps, epochs actually started)."""
    per_epoch = steps_per_epoch(n, batch_size, world)
    if per_epoch == 0:
        raise StageError(f"{n} usable training samples: a contrastive batch needs at least 2")
    steps = per_epoch * epochs
    if max_steps is not None:
        steps = min(steps, max_steps)
    return steps, math.ceil(steps / per_epoch)

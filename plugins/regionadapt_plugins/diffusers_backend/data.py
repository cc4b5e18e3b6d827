"""Training data for UNet tuning: VAE latents and text embeddings, encoded once per run.

The VAE and text encoders are frozen, so encoding every image and caption at every step (as
diffusers' LoRA scripts do) spends most of a step on work whose result never changes. We
encode each sample once, in chunks written to a cache folder as safetensors (kohya's approach),
and train from the cache. The latent *distribution* (mean and std) is cached, so each step
still draws a fresh latent sample, as encoding on the fly would. A killed run finds the
finished cache and does not encode again. Corrupt or missing images are skipped and counted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from regionadapt.errors import StageError

CHUNK = 256
DONE = "cache.json"


def open_samples(path: Path) -> Any:
    import datasets

    if not Path(path).exists():
        raise StageError(f"{path}: training data set not found")
    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as exc:  # not a save_to_disk folder
        raise StageError(f"{path}: not a data set saved with save_to_disk: {exc}") from None
    if isinstance(ds, datasets.DatasetDict):
        ds = ds["train"] if "train" in ds else None
    if ds is None or "text" not in ds.column_names or "image" not in ds.column_names:
        raise StageError(f"{path}: expected a sample collection with 'text' and 'image' columns")
    if len(ds) == 0:
        raise StageError(f"{path}: the training data set is empty")
    return ds


def pixels(img: Any, resolution: int) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Resize the short side to ``resolution``, centre-crop; [-1, 1] CHW tensor and SDXL's
    (original h, original w, crop top, crop left)."""
    import numpy as np
    from PIL import Image

    img = img.convert("RGB")
    w, h = img.size
    scale = resolution / min(w, h)
    nw, nh = max(resolution, round(w * scale)), max(resolution, round(h * scale))
    img = img.resize((nw, nh), Image.BICUBIC)
    top, left = (nh - resolution) // 2, (nw - resolution) // 2
    img = img.crop((left, top, left + resolution, top + resolution))
    arr = torch.from_numpy(np.asarray(img, dtype=np.float32).copy()).permute(2, 0, 1)
    return arr / 127.5 - 1.0, (h, w, top, left)


@dataclass
class Cached:
    """Every usable sample, encoded: what one training step reads."""

    mean: torch.Tensor  # [N, C, h, w] latent mean (unscaled)
    std: torch.Tensor
    embeds: torch.Tensor  # [N, L, D] encoder hidden states
    pooled: torch.Tensor | None  # [N, P] SDXL pooled text embeddings
    time_ids: torch.Tensor | None  # [N, 6] SDXL size/crop conditioning
    skipped: int

    def __len__(self) -> int:
        return len(self.mean)


def encode_texts(pipe: Any, texts: list[str], device: torch.device) -> tuple[Any, Any]:
    """The pipeline's own prompt encoding (as at inference): (embeds, pooled or None)."""
    out = pipe.encode_prompt(
        prompt=texts, device=device, num_images_per_prompt=1, do_classifier_free_guidance=False
    )
    pooled = out[2] if len(out) == 4 else None
    return out[0], pooled


@torch.inference_mode()
def _encode_chunk(pipe: Any, images: list[torch.Tensor], texts: list[str], batch: int) -> dict:
    device = pipe.unet.device
    dtype = pipe.vae.dtype
    out: dict[str, list[torch.Tensor]] = {"mean": [], "std": [], "embeds": [], "pooled": []}
    for s in range(0, len(images), batch):
        px = torch.stack(images[s : s + batch]).to(device, dtype)
        dist = pipe.vae.encode(px).latent_dist
        out["mean"].append(dist.mean.float().cpu())
        out["std"].append(dist.std.float().cpu())
        embeds, pooled = encode_texts(pipe, texts[s : s + batch], device)
        out["embeds"].append(embeds.float().cpu())
        if pooled is not None:
            out["pooled"].append(pooled.float().cpu())
    return {k: torch.cat(v).contiguous().clone() for k, v in out.items() if v}


def build_cache(
    pipe: Any, ds: Any, resolution: int, folder: Path, key: str, batch: int, log: Callable
) -> Cached:
    """Encode ``ds`` into ``folder`` (or reuse it when a finished cache with ``key`` is there)."""
    from safetensors.torch import load_file, save_file

    from regionadapt.data.images import ImageMissing, image_bytes, open_image

    folder = Path(folder)
    marker = folder / DONE
    if marker.is_file() and json.loads(marker.read_text())["key"] == key:
        log(f"t2i: reusing the latent/text cache in {folder}")
    else:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("chunk-*.safetensors"):
            old.unlink()
        skipped, chunks, n = 0, 0, 0
        cols = [c for c in ("image", "image_path", "text") if c in ds.column_names]
        for rows in ds.select_columns(cols).iter(batch_size=CHUNK):
            images, texts, times = [], [], []
            for i, text in enumerate(rows["text"]):
                sample = {c: rows[c][i] for c in cols}
                try:
                    px, t = pixels(open_image(image_bytes(sample)), resolution)
                except (ImageMissing, OSError, ValueError, SyntaxError):
                    skipped += 1  # corrupt, truncated or missing: counted, never a crash
                    continue
                images.append(px)
                texts.append(text or "")
                times.append([t[0], t[1], t[2], t[3], resolution, resolution])
            if not images:
                continue
            enc = _encode_chunk(pipe, images, texts, batch)
            enc["time_ids"] = torch.tensor(times, dtype=torch.float32)
            save_file(enc, str(folder / f"chunk-{chunks:05d}.safetensors"))
            chunks, n = chunks + 1, n + len(images)
        if n == 0:
            raise StageError(f"none of the {len(ds)} training images could be decoded")
        marker.write_text(json.dumps({"key": key, "n": n, "skipped": skipped}))
        log(f"t2i: encoded {n} samples once into {folder} ({skipped} image(s) skipped)")
    info = json.loads(marker.read_text())
    parts = [load_file(str(p)) for p in sorted(folder.glob("chunk-*.safetensors"))]

    def cat(k: str) -> torch.Tensor | None:
        return torch.cat([p[k] for p in parts]) if k in parts[0] else None

    return Cached(
        mean=cat("mean"),
        std=cat("std"),
        embeds=cat("embeds"),
        pooled=cat("pooled"),
        time_ids=cat("time_ids") if is_xl(pipe) else None,
        skipped=int(info["skipped"]),
    )


def is_xl(pipe: Any) -> bool:
    return getattr(pipe, "text_encoder_2", None) is not None


def plan_epoch(n: int, batch_size: int, epoch: int, seed: int) -> list[torch.Tensor]:
    """Index batches of one epoch: a seeded permutation, so a resumed run sees the same order."""
    gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(n, generator=gen)
    return [order[s : s + batch_size] for s in range(0, n, batch_size)]

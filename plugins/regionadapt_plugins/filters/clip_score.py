"""The default alignment scorer: cosine similarity of CLIP image and text embeddings, computed
by whichever embedding backend is registered as ``open_clip`` (so a user's own checkpoint,
tuned or not, scores the data)."""

from __future__ import annotations

import io
from typing import Any

from regionadapt.errors import ConfigError


class ClipScorer:
    def __init__(self, model: str = "", backend: str = "open_clip", batch_size: int = 64) -> None:
        if not model:
            raise ConfigError(
                "alignment filter: the clip scorer needs scorer_params.model: a checkpoint "
                "folder (or hf-hub: id) the embedding backend can load"
            )
        self.model_spec = model
        self.backend_name = backend
        self.batch_size = batch_size
        self._model: Any = None

    def setup(self, ctx) -> None:
        from regionadapt.components import build

        backend = build("backends", self.backend_name)
        self._model = backend.load(self.model_spec)

    def score_batch(self, images: list[bytes], texts: list[str]) -> list[float]:
        from PIL import Image

        pil = [Image.open(io.BytesIO(b)).convert("RGB") for b in images]
        img = self._model.encode_images(pil, batch_size=self.batch_size)
        txt = self._model.encode_texts(list(texts), batch_size=self.batch_size)
        return (img * txt).sum(dim=-1).tolist()

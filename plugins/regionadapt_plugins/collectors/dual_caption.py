"""MELLA's dual source: keep each image's native alt-text and add a model-written caption.

Native alt-text carries regional knowledge (names, places) and a captioner's description
carries linguistic coverage; MELLA trains on both. The wrapped collector's samples keep
``text`` = alt-text with ``meta.model_caption``; ``emit_both`` adds a ``<id>-cap`` sample whose
text is the model caption.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from regionadapt.components import Collector, Context
from regionadapt.data.skip import Skip
from regionadapt.errors import StageError
from regionadapt.schema import Strict
from regionadapt_plugins.collectors.nested import SourceSpec, build_source, pick_device


class Captioner:
    """A transformers image-to-text model: a VisionEncoderDecoder checkpoint (image processor +
    tokenizer) or any model AutoModelForImageTextToText loads with its AutoProcessor."""

    def __init__(
        self,
        model: str,
        *,
        prompt: str = "",
        max_new_tokens: int = 32,
        device: str = "auto",
        trust_remote_code: bool = False,
    ) -> None:
        from transformers import AutoConfig, AutoModelForImageTextToText

        kw = {"trust_remote_code": trust_remote_code}
        try:
            config = AutoConfig.from_pretrained(model, **kw)
            self.is_ved = config.model_type == "vision-encoder-decoder"
            if self.is_ved:
                from transformers import AutoImageProcessor, AutoTokenizer

                self.image_processor = AutoImageProcessor.from_pretrained(model, **kw)
                self.tokenizer = AutoTokenizer.from_pretrained(model, **kw)
            else:
                from transformers import AutoProcessor

                self.processor = AutoProcessor.from_pretrained(model, **kw)
                self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
                if not getattr(config, "is_encoder_decoder", False):
                    # A decoder-only model continues the last token: pad prompts on the left.
                    self.tokenizer.padding_side = "left"
            self.model = AutoModelForImageTextToText.from_pretrained(model, **kw)
        except Exception as exc:  # missing folder, unknown id offline, not image-to-text
            raise StageError(
                f"dual-caption collector: captioner: cannot load {model!r} as an image-to-text "
                f"model: {type(exc).__name__}: {exc}"
            ) from exc
        self.device = pick_device(device)
        self.model.to(self.device).eval()
        self.prompt = prompt
        self.max_new_tokens = max_new_tokens

    def caption(self, images: list[Any]) -> list[str]:
        import torch

        if self.is_ved:
            inputs = self.image_processor(images=images, return_tensors="pt")
            if self.prompt:
                ids = self.tokenizer([self.prompt] * len(images), return_tensors="pt").input_ids
                inputs["decoder_input_ids"] = ids
        else:
            texts = [self.prompt] * len(images) if self.prompt else None
            inputs = self.processor(images=images, text=texts, return_tensors="pt", padding=True)
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens)
        if not self.is_ved and "input_ids" in inputs:  # decoder-only: drop the echoed prompt
            out = out[:, inputs["input_ids"].shape[1] :]
        texts_out = self.tokenizer.batch_decode(out, skip_special_tokens=True)
        return [
            t.removeprefix(self.prompt).strip() if self.prompt else t.strip() for t in texts_out
        ]


class DualCaptionCollector(Collector):
    name: ClassVar[str] = "dual-caption"
    description: ClassVar[str] = (
        "MELLA dual source: wraps another collector, keeps each image's native alt-text and "
        "adds a caption written by an image-to-text model (meta.model_caption); with "
        "emit_both, also a <id>-cap sample whose text is the model caption. Images that fail "
        "to decode are skipped (image-unreadable)."
    )

    class Params(Strict):
        source: SourceSpec
        captioner: str
        prompt: str = ""
        emit_both: bool = False
        # Language of the model's captions (for the <id>-cap samples).
        caption_lang: str = "eng"
        batch_size: int = Field(default=8, ge=1)
        max_new_tokens: int = Field(default=32, ge=1)
        device: str = "auto"
        trust_remote_code: bool = False

    def __init__(self, params: Mapping[str, Any] | None = None, *, where: str = "") -> None:
        super().__init__(params, where=where)
        p = self.params
        self.source = build_source(p.source, where.removesuffix(".params") or "dual-caption")

    def collect(self, ctx: Context) -> Iterator[dict[str, Any] | Skip]:
        p = self.params
        captioner = Captioner(
            p.captioner, prompt=p.prompt, max_new_tokens=p.max_new_tokens, device=p.device,
            trust_remote_code=p.trust_remote_code,
        )  # fmt: skip
        batch: list[tuple[dict[str, Any], Any]] = []
        for item in self.source.collect(ctx):
            if not isinstance(item, dict) or not (item.get("image") or item.get("image_path")):
                yield item  # Skips and image-less samples pass through
                continue
            image = _decode(item)
            if isinstance(image, Skip):
                yield image
                continue
            batch.append((item, image))
            if len(batch) >= p.batch_size:
                yield from self._flush(batch, captioner)
                batch = []
        if batch:
            yield from self._flush(batch, captioner)

    def _flush(
        self, batch: list[tuple[dict[str, Any], Any]], captioner: Captioner
    ) -> Iterator[dict[str, Any]]:
        p = self.params
        captions = captioner.caption([img for _, img in batch])
        for (src, _), cap in zip(batch, captions, strict=True):
            meta = {**json.loads(src.get("meta") or "{}"), "alt_text": src.get("text", ""),
                    "model_caption": cap, "captioner": p.captioner}  # fmt: skip
            meta_json = json.dumps(meta, ensure_ascii=False, sort_keys=True)
            yield {**src, "meta": meta_json}
            if p.emit_both:
                yield {**src, "id": f"{src['id']}-cap", "text": cap, "lang": p.caption_lang,
                       "meta": meta_json}  # fmt: skip


def _decode(sample: dict[str, Any]) -> Any:
    """The sample's image as RGB PIL, or a Skip naming it and why it did not decode."""
    from PIL import Image

    where = str(sample.get("id", ""))
    try:
        data = sample.get("image")
        raw = bytes(data) if data else Path(sample["image_path"]).read_bytes()
        with Image.open(io.BytesIO(raw)) as img:
            return img.convert("RGB")
    except Image.DecompressionBombError as exc:
        return Skip("image-too-large", where, str(exc))
    except Exception as exc:  # truncated, not an image, unreadable file
        return Skip("image-unreadable", where, f"{type(exc).__name__}: {exc}")

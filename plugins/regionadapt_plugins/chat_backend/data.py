"""Chat formatting with the model's own template, assistant-only labels, truncation pre-flight.

Assistant tokens are found without relying on ``{% generation %}`` tags (most real templates,
Gemma-3's and Qwen2-VL's included, have none): for each assistant turn ``k`` the conversation
up to it is rendered with the generation prompt (the prefix) and with the turn itself; the
tokens between the two lengths are the answer, the template's end-of-turn marker included (the
model must learn to stop). The rendering goes through the processor, so image placeholders are
expanded exactly as in training, and a prefix whose tokens are not a prefix of the whole is
refused rather than mislabelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from regionadapt.errors import StageError
from regionadapt.samples import messages as sample_messages

IGNORE = -100


def to_content(text: str, n_images: int = 0) -> list[dict[str, Any]]:
    """A turn's content in the typed form processors' chat templates read."""
    return [{"type": "image"} for _ in range(n_images)] + [{"type": "text", "text": text}]


def conversation(turns: Sequence[dict[str, str]], n_images: int) -> list[dict[str, Any]]:
    """Plain {role, content} turns -> typed turns; the images go with the first user turn."""
    out, placed = [], False
    for t in turns:
        k = n_images if (t["role"] == "user" and not placed) else 0
        placed = placed or t["role"] == "user"
        out.append({"role": t["role"], "content": to_content(t["content"], k)})
    return out


def sample_turns(sample: dict[str, Any], caption_prompt: str) -> list[dict[str, str]]:
    """A sample's chat turns: its ``messages``, or a caption as prompt + answer."""
    turns = sample_messages(sample)
    if turns:
        return turns
    text = (sample.get("text") or "").strip()
    if not text:
        raise ValueError(f"sample {sample.get('id', '?')!r}: no messages and no caption text")
    return [{"role": "user", "content": caption_prompt}, {"role": "assistant", "content": text}]


def render(processor: Any, conv: list[dict[str, Any]], generation_prompt: bool) -> str:
    return processor.apply_chat_template(
        conv, tokenize=False, add_generation_prompt=generation_prompt
    )


def tokenize(processor: Any, text: str | list[str], images: list[Any] | None, **kw: Any) -> Any:
    """Processor call with the template's own special tokens (no second BOS)."""
    return processor(
        text=text, images=images or None, add_special_tokens=False, return_tensors="pt", **kw
    )


def image_token_id(processor: Any, model_config: Any = None) -> int | None:
    for obj in (processor, model_config):
        for attr in ("image_token_id", "image_token_index"):
            v = getattr(obj, attr, None) if obj is not None else None
            if isinstance(v, int):
                return v
    token = getattr(processor, "image_token", None)
    if token:
        return processor.tokenizer.convert_tokens_to_ids(token)
    return None


def batch_images(per_row: list[list[Any]]) -> list[list[Any]] | None:
    """Images for a batched processor call: one list per row (Gemma-3's processor insists on
    it; the others accept it), or None when no row has any."""
    return per_row if any(per_row) else None


# Processor outputs with one value per token (padded with 0 like text); every other output
# (pixel_values, image_grid_thw, image_sizes...) has one entry per image or patch and is
# concatenated along dim 0 across the rows of a batch.
PER_TOKEN = ("token_type_ids", "mm_token_type_ids")


@dataclass
class Encoded:
    """One example: the rendered text, its images, its token ids (image tokens expanded), the
    assistant token spans and, when kept, the processor's other outputs (pixels...)."""

    text: str
    images: list[Any]
    length: int
    spans: list[tuple[int, int]]
    last_image_pos: int  # -1: no image token
    ids: list[int] | None = None
    extras: dict[str, Any] | None = None


def raw_ids(processor: Any, text: str) -> list[int]:
    """Token ids of ``text`` with image placeholders unexpanded (tokenizer only: cheap)."""
    return processor.tokenizer(text, add_special_tokens=False)["input_ids"]


def encode(
    processor: Any, turns: Sequence[dict[str, str]], images: list[Any], where: str,
    image_id: int | None = None, keep: bool = True,
) -> Encoded:  # fmt: skip
    """Render ``turns`` with ``images`` and find the assistant tokens (see module docstring).

    One processor call (image tokens expanded); the prefixes are tokenised without images and
    shifted by the expansion, which lies wholly in the first user turn, before any answer. Each
    span is checked token for token against the expanded sequence."""
    conv = conversation(turns, len(images))
    full = render(processor, conv, False)
    inputs = tokenize(processor, full, images)
    ids = inputs["input_ids"][0].tolist()
    raw = raw_ids(processor, full)
    delta = len(ids) - len(raw)
    spans = []
    for k, t in enumerate(conv):
        if t["role"] != "assistant":
            continue
        head = raw_ids(processor, render(processor, conv[:k], True))
        # the whole conversation when k is the last turn: no second rendering
        upto = (
            raw
            if k == len(conv) - 1
            else raw_ids(processor, render(processor, conv[: k + 1], False))
        )
        a, b = len(head), len(upto)
        if b <= a or head != raw[:a] or upto != raw[:b] or ids[a + delta : b + delta] != raw[a:b]:
            raise StageError(
                f"{where}: the chat template does not render turn {k} as a prefix of the whole "
                "conversation; cannot tell the assistant's tokens apart"
            )
        spans.append((a + delta, b + delta))
    last = max((i for i, x in enumerate(ids) if x == image_id), default=-1) if image_id else -1
    extras = {k: v for k, v in inputs.items() if k not in ("input_ids", "attention_mask")}
    return Encoded(full, images, len(ids), spans, last, ids if keep else None,
                   extras if keep else None)  # fmt: skip


def check_fits(enc: Encoded, max_length: int, where: str) -> None:
    """The pre-flight rule: truncation may cut only answer text, never image tokens, and must
    leave at least one answer token to learn from."""
    if enc.length <= max_length:
        return
    if enc.last_image_pos >= max_length:
        raise StageError(
            f"{where}: {enc.length} tokens, image tokens up to position {enc.last_image_pos}, "
            f"but max_length={max_length}: truncation would cut image tokens ('image features "
            "and image tokens do not match'); raise max_length or shorten the sample"
        )
    if not any(a < max_length for a, _ in enc.spans):
        raise StageError(
            f"{where}: {enc.length} tokens; with max_length={max_length} no answer token is left"
        )


def collate(processor: Any, batch: Sequence[Encoded], max_length: int) -> dict[str, Any]:
    """Right-padded model inputs for ``batch`` with labels on the assistant spans only: from
    the kept processor outputs when every row has them, else through the processor again."""
    import torch

    if all(e.ids is not None and e.extras is not None for e in batch):
        out = _stack(processor, batch)
    else:
        out = dict(tokenize(processor, [e.text for e in batch],
                            batch_images([e.images for e in batch]), padding=True,
                            padding_side="right"))  # fmt: skip
    ids = out["input_ids"]
    labels = torch.full_like(ids, IGNORE)
    for row, e in enumerate(batch):
        if int(out["attention_mask"][row, : e.length].sum()) != e.length:
            raise StageError("collate: the processor padded on the left; expected the right")
        for a, b in e.spans:
            labels[row, a:b] = ids[row, a:b]
    out["labels"] = labels
    if ids.shape[1] > max_length:  # only answer text beyond this point (checked in pre-flight)
        for key in ("input_ids", "attention_mask", "labels", *PER_TOKEN):
            if key in out:
                out[key] = out[key][:, :max_length]
    return out


def _stack(processor: Any, batch: Sequence[Encoded]) -> dict[str, Any]:
    import torch

    width = max(e.length for e in batch)
    pad = processor.tokenizer.pad_token_id or 0
    ids = torch.full((len(batch), width), pad, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, e in enumerate(batch):
        ids[row, : e.length] = torch.tensor(e.ids)
        mask[row, : e.length] = 1
    out: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
    # Rows without images (a text-only prompt beside pictured ones) have no pixel outputs:
    # per-image outputs come from the rows that have them, in row order, as the model reads
    # them; per-token outputs are 0 (text) on the other rows.
    keys = dict.fromkeys(k for e in batch for k in (e.extras or {}))
    for key in keys:
        values = [(row, e.extras[key]) for row, e in enumerate(batch) if key in e.extras]
        if key in PER_TOKEN:
            col = torch.zeros((len(batch), width), dtype=values[0][1].dtype)
            for row, v in values:
                col[row, : v.shape[1]] = v[0]
            out[key] = col
        else:
            out[key] = torch.cat([v for _, v in values], dim=0)
    return out


def decode_image(value: Any, path: str | None = None) -> Any:
    """An RGB PIL image, or None for a sample without one (text-only instruction data)."""
    from regionadapt.data.images import to_pil

    if not value and not path:
        return None
    return to_pil(value, path).convert("RGB")


def preflight(
    processor: Any, dataset: Any, caption_prompt: str, max_length: int, image_id: int | None,
    log: Any = print,
) -> tuple[list[Encoded], dict[str, int]]:  # fmt: skip
    """Encode every training sample once, before any step: refuse (naming the sample) any whose
    image tokens would be truncated or whose turns are malformed; count unreadable images."""
    out: list[Encoded] = []
    skipped: dict[str, int] = {}
    cols = [c for c in ("id", "image", "image_path", "text", "messages")
            if c in dataset.column_names]  # fmt: skip
    for row in dataset.select_columns(cols):
        where = f"training sample {row.get('id', '?')!r}"
        try:
            img = decode_image(row.get("image"), row.get("image_path"))
        except Exception:  # corrupt / truncated file: skipped and counted
            skipped["unreadable image"] = skipped.get("unreadable image", 0) + 1
            continue
        try:
            turns = sample_turns(row, caption_prompt)
        except ValueError as exc:
            raise StageError(f"{where}: {exc}") from None
        enc = encode(processor, turns, [img] if img is not None else [], where, image_id)
        check_fits(enc, max_length, where)
        out.append(enc)
    if not out:
        raise StageError(f"none of the {len(dataset)} training samples is usable: {skipped}")
    log(f"pre-flight: {len(out)} examples fit max_length={max_length}; skipped {skipped or 0}")
    return out, skipped

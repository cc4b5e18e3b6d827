"""The ``ChatModel`` handle (regionadapt.handles): greedy answers and option log-likelihoods.

Options are scored as the whole assistant answer, the template's end-of-turn marker included,
exactly as training labels them (:mod:`.data`), so scoring and training agree on what "the
answer" is. ``mean`` (length-normalised) is the default: summed log-likelihood penalises long
names, and a merge that shortens nothing but sharpens them lost to it 14 times in 15 here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from regionadapt.errors import StageError
from regionadapt.handles import ChatPrompt
from regionadapt_plugins.chat_backend import data as D


def _user_turns(p: ChatPrompt) -> list[dict[str, Any]]:
    conv = []
    if p.system:
        conv.append({"role": "system", "content": D.to_content(p.system)})
    conv.append({"role": "user", "content": D.to_content(p.text, len(p.images))})
    return conv


def _to_device(batch: dict[str, Any], model: Any) -> dict[str, Any]:
    import torch

    dtype = next(model.parameters()).dtype
    out = {}
    for k, v in batch.items():
        if isinstance(v, torch.Tensor):
            v = v.to(model.device)
            if v.is_floating_point():
                v = v.to(dtype)
        out[k] = v
    return out


class TransformersChatModel:
    """A loaded chat VLM and its processor; satisfies :class:`regionadapt.handles.ChatModel`."""

    def __init__(self, model: Any, processor: Any, source: str = "") -> None:
        self.model = model
        self.processor = processor
        self.source = source

    def _groups(self, prompts: Sequence[ChatPrompt], batch_size: int) -> list[list[int]]:
        # Batches of prompts with the same number of images (processors need that per call).
        by_n: dict[int, list[int]] = {}
        for i, p in enumerate(prompts):
            by_n.setdefault(len(p.images), []).append(i)
        return [g[s : s + batch_size] for g in by_n.values() for s in range(0, len(g), batch_size)]

    def generate(
        self, prompts: Sequence[ChatPrompt], *, max_new_tokens: int = 64, batch_size: int = 8
    ) -> list[str]:
        import torch

        out: list[str] = [""] * len(prompts)
        tok = self.processor.tokenizer
        for group in self._groups(prompts, batch_size):
            texts = [D.render(self.processor, _user_turns(prompts[i]), True) for i in group]
            images = D.batch_images([list(prompts[i].images) for i in group])
            batch = D.tokenize(self.processor, texts, images, padding=True, padding_side="left")
            with torch.inference_mode():
                gen = self.model.generate(
                    **_to_device(dict(batch), self.model),
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=tok.pad_token_id,
                )
            new = gen[:, batch["input_ids"].shape[1] :]
            for i, text in zip(group, tok.batch_decode(new, skip_special_tokens=True), strict=True):
                out[i] = text.strip()
        return out

    def _encode_options(self, p: ChatPrompt, options: Sequence[str], where: str) -> list[Any]:
        # One processor call per prompt (the image is processed once); each option is only
        # tokenised and appended after the prompt's expanded tokens.
        conv = _user_turns(p)
        prefix_text = D.render(self.processor, conv, True)
        inputs = D.tokenize(self.processor, prefix_text, p.images)
        head = inputs["input_ids"][0].tolist()
        extras = {k: v for k, v in inputs.items() if k not in ("input_ids", "attention_mask")}
        raw_head = D.raw_ids(self.processor, prefix_text)
        encs = []
        for k, opt in enumerate(options):
            full = conv + [{"role": "assistant", "content": D.to_content(opt)}]
            text = D.render(self.processor, full, False)
            raw = D.raw_ids(self.processor, text)
            if raw[: len(raw_head)] != raw_head or len(raw) <= len(raw_head):
                raise StageError(f"{where} option {k}: the chat template does not render the "
                                 "answer after the generation prompt")  # fmt: skip
            ids = head + raw[len(raw_head) :]
            encs.append(D.Encoded(text, list(p.images), len(ids), [(len(head), len(ids))], -1,
                                  ids, extras))  # fmt: skip
        return encs

    def option_logprobs(
        self,
        prompts: Sequence[ChatPrompt],
        options: Sequence[Sequence[str]],
        *,
        normalize: Literal["mean", "sum"] = "mean",
        batch_size: int = 8,
    ) -> list[list[float]]:
        if len(prompts) != len(options):
            raise ValueError(f"{len(prompts)} prompts but {len(options)} option lists")
        flat: list[tuple[int, Any]] = []
        for i, (p, opts) in enumerate(zip(prompts, options, strict=True)):
            flat.extend((i, e) for e in self._encode_options(p, opts, f"prompt {i}"))
        scores = self._score([e for _, e in flat], normalize, batch_size)
        out: list[list[float]] = [[] for _ in prompts]
        for (i, _), s in zip(flat, scores, strict=True):
            out[i].append(s)
        return out

    def _score(self, encs: list[Any], normalize: str, batch_size: int) -> list[float]:
        import torch

        scores: list[float] = []
        for s in range(0, len(encs), batch_size):
            part = encs[s : s + batch_size]
            batch = D.collate(self.processor, part, max_length=10**9)
            labels = batch.pop("labels")
            with torch.inference_mode():
                logits = self.model(**_to_device(batch, self.model)).logits.float()
            logp = torch.log_softmax(logits[:, :-1], dim=-1)
            target = labels[:, 1:].to(logp.device)
            mask = target != D.IGNORE
            tok_lp = logp.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask
            total, count = tok_lp.sum(-1), mask.sum(-1).clamp(min=1)
            vals = total / count if normalize == "mean" else total
            scores.extend(float(v) for v in vals.cpu())
        return scores

"""GG-EZ phase 1, step 3: translate English captions into each language of the region pack.

The collector wraps another collector; every English sample it yields becomes one sample per
target language (id ``<src id>-<lang>``, same image, ``meta.translated_from``). Translation is
behind the small :class:`Translator` interface so another backend (an API, CTranslate2...) can be
registered with :func:`register_translator` and chosen with ``backend = "..."``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from pydantic import Field

from regionadapt.components import Collector, Context
from regionadapt.data.skip import Skip
from regionadapt.errors import ConfigError, StageError
from regionadapt.schema import Strict
from regionadapt_plugins.collectors.nested import SourceSpec, build_source, pick_device

# NLLB-200 language tokens for the pack languages of South-East Asia (and a few neighbours).
NLLB_CODES: dict[str, str] = {
    "eng": "eng_Latn", "tha": "tha_Thai", "ind": "ind_Latn", "vie": "vie_Latn",
    "lao": "lao_Laoo", "khm": "khm_Khmr", "mya": "mya_Mymr", "fil": "tgl_Latn",
    "tgl": "tgl_Latn", "zsm": "zsm_Latn", "msa": "zsm_Latn", "jav": "jav_Latn",
    "sun": "sun_Latn", "ceb": "ceb_Latn", "ilo": "ilo_Latn", "war": "war_Latn",
    "min": "min_Latn", "ace": "ace_Latn", "ban": "ban_Latn", "bjn": "bjn_Latn",
    "shn": "shn_Mymr", "kac": "kac_Latn", "zho": "zho_Hans", "cmn": "zho_Hans",
    "yue": "yue_Hant", "tam": "tam_Taml",
}  # fmt: skip


class Translator:
    """Translation backend interface: ``translate(texts, lang)`` returns one string per text.

    ``lang`` is an ISO 639-3 code; the backend maps it to whatever its model expects.
    """

    name: ClassVar[str] = ""

    def translate(self, texts: list[str], lang: str) -> list[str]:
        raise NotImplementedError


class HFTranslator(Translator):
    """A transformers seq2seq model (NLLB, M2M, Marian, T5...) loaded offline-friendly.

    A target code that is one token of the tokenizer's vocabulary (NLLB ``tha_Thai``) is forced
    as the first generated token; a ``>>xxx<<`` code (multilingual Marian) or any other string
    is prefixed to the source text.
    """

    name: ClassVar[str] = "transformers"

    def __init__(
        self,
        model: str,
        lang_codes: Mapping[str, str],
        *,
        source_lang: str = "eng",
        max_new_tokens: int = 128,
        device: str = "auto",
        trust_remote_code: bool = False,
    ) -> None:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(
                model, trust_remote_code=trust_remote_code
            )
            self.model = AutoModelForSeq2SeqLM.from_pretrained(
                model, trust_remote_code=trust_remote_code
            )
        except Exception as exc:  # missing folder, unknown id offline, not a seq2seq model
            raise StageError(
                f"translate collector: model: cannot load {model!r} as a seq2seq model "
                f"(AutoModelForSeq2SeqLM + AutoTokenizer): {type(exc).__name__}: {exc}"
            ) from exc
        self.device = pick_device(device)
        self.model.to(self.device).eval()
        self.max_new_tokens = max_new_tokens
        self.vocab = self.tokenizer.get_vocab()
        self.codes = dict(lang_codes)
        src = self.code(source_lang)
        if src in self.vocab and hasattr(self.tokenizer, "src_lang"):
            self.tokenizer.src_lang = src

    def code(self, lang: str) -> str:
        """The model's target token: configured, else NLLB's when the vocab has it, else >>x<<."""
        if lang in self.codes:
            return self.codes[lang]
        nllb = NLLB_CODES.get(lang)
        return nllb if nllb is not None and nllb in self.vocab else f">>{lang}<<"

    def translate(self, texts: list[str], lang: str) -> list[str]:
        import torch

        code = self.code(lang)
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens}
        if code in self.vocab and not code.startswith(">>"):
            kwargs["forced_bos_token_id"] = self.vocab[code]
        else:
            texts = [f"{code} {t}" for t in texts]
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, truncation=True)
        enc = {k: v.to(self.device) for k, v in enc.items() if k != "token_type_ids"}
        with torch.inference_mode():
            out = self.model.generate(**enc, **kwargs)
        return [t.strip() for t in self.tokenizer.batch_decode(out, skip_special_tokens=True)]


TRANSLATORS: dict[str, type[Translator]] = {"transformers": HFTranslator}


def register_translator(cls: type[Translator]) -> None:
    """Make a backend selectable with ``backend = cls.name``; its constructor takes the same
    arguments as :class:`HFTranslator`."""
    TRANSLATORS[cls.name] = cls


class TranslateCollector(Collector):
    name: ClassVar[str] = "translate"
    description: ClassVar[str] = (
        "Wraps another collector and translates its English captions into each pack language "
        "with a seq2seq model (NLLB-200 by default codes): one sample per language, id "
        "<src id>-<lang>, same image, meta.translated_from. Other samples pass through."
    )

    class Params(Strict):
        source: SourceSpec
        model: str
        # ISO 639-3 targets; default: every pack language but the source language.
        languages: list[str] | None = None
        # ISO 639-3 -> the model's target token or prefix (NLLB "tha_Thai", Marian ">>tha<<").
        lang_codes: dict[str, str] = {}
        source_lang: str = "eng"
        keep_source: bool = False
        batch_size: int = Field(default=16, ge=1)
        max_new_tokens: int = Field(default=128, ge=1)
        backend: str = "transformers"
        device: str = "auto"
        trust_remote_code: bool = False

    def __init__(self, params: Mapping[str, Any] | None = None, *, where: str = "") -> None:
        super().__init__(params, where=where)
        p = self.params
        if p.backend not in TRANSLATORS:
            raise ConfigError(
                f"{where or 'translate params'}.backend: unknown {p.backend!r}; "
                f"known: {', '.join(sorted(TRANSLATORS))}"
            )
        self.source = build_source(p.source, where.removesuffix(".params") or "translate")

    def _targets(self, ctx: Context) -> list[str]:
        p = self.params
        langs = p.languages if p.languages is not None else ctx.pack.language_codes
        return [lang for lang in langs if lang != p.source_lang]

    def collect(self, ctx: Context) -> Iterator[dict[str, Any] | Skip]:
        p = self.params
        targets = self._targets(ctx)
        translator = TRANSLATORS[p.backend](
            p.model, p.lang_codes, source_lang=p.source_lang, max_new_tokens=p.max_new_tokens,
            device=p.device, trust_remote_code=p.trust_remote_code,
        )  # fmt: skip
        batch: list[dict[str, Any]] = []
        for item in self.source.collect(ctx):
            if isinstance(item, dict) and item.get("lang") == p.source_lang and item.get("text"):
                batch.append(item)
                if len(batch) >= p.batch_size:
                    yield from self._flush(batch, targets, translator)
                    batch = []
            else:
                yield item
        if batch:
            yield from self._flush(batch, targets, translator)

    def _flush(
        self, batch: list[dict[str, Any]], targets: list[str], translator: Translator
    ) -> Iterator[dict[str, Any] | Skip]:
        texts = [s["text"] for s in batch]
        per_lang = {lang: translator.translate(texts, lang) for lang in targets}
        for i, src in enumerate(batch):
            if self.params.keep_source:
                yield src
            base_meta = json.loads(src.get("meta") or "{}")
            for lang in targets:
                text = per_lang[lang][i]
                sid = f"{src['id']}-{lang}"
                if not text:
                    yield Skip("empty-translation", sid, f"model gave no text for {lang}")
                    continue
                meta = {**base_meta, "translated_from": src["id"],
                        "translation_model": self.params.model}  # fmt: skip
                yield {**src, "id": sid, "text": text, "lang": lang,
                       "meta": json.dumps(meta, ensure_ascii=False, sort_keys=True)}  # fmt: skip

"""The model-backed collectors (translate, dual-caption) on tiny models built in code, saved
with save_pretrained and loaded back by path through the collectors, as a config would."""

from __future__ import annotations

import json

import datasets
import pytest
from data_kit import image_bytes, make_ctx

from regionadapt.components import build
from regionadapt.data import run_collect
from regionadapt.errors import StageError

WORDS = "a red bowl of soup on the table with noodles and rice green chair photo".split()
LANG_TOKENS = ["eng_Latn", "tha_Thai", "ind_Latn", "vie_Latn", ">>xyz<<"]


def _tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "</s>", "<unk>", "<s>"]
    vocab = {w: i for i, w in enumerate(specials + LANG_TOKENS + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
        bos_token="<s>",
    )  # fmt: skip


@pytest.fixture(scope="module")
def t5_dir(tmp_path_factory):
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    tok = _tokenizer()
    cfg = T5Config(vocab_size=len(tok), d_model=16, d_kv=8, d_ff=32, num_layers=1,
                   num_decoder_layers=1, num_heads=2, pad_token_id=0, eos_token_id=1,
                   decoder_start_token_id=0)  # fmt: skip
    model = T5ForConditionalGeneration(cfg)
    # A random model may stop at once or write only special tokens (decoded to ""): forbid both.
    model.generation_config.min_new_tokens = 2
    model.generation_config.suppress_tokens = [0, 2, 3]
    out = tmp_path_factory.mktemp("t5")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def ved_dir(tmp_path_factory):
    import torch
    from transformers import (
        GPT2Config,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
    )

    torch.manual_seed(0)
    tok = _tokenizer()
    enc = ViTConfig(image_size=32, patch_size=16, hidden_size=16, num_hidden_layers=1,
                    num_attention_heads=2, intermediate_size=32)  # fmt: skip
    dec = GPT2Config(vocab_size=len(tok), n_embd=16, n_layer=1, n_head=2, n_positions=64,
                     bos_token_id=3, eos_token_id=1, pad_token_id=0)  # fmt: skip
    cfg = VisionEncoderDecoderConfig.from_encoder_decoder_configs(enc, dec)
    cfg.decoder_start_token_id, cfg.pad_token_id, cfg.eos_token_id = 3, 0, 1
    model = VisionEncoderDecoderModel(cfg)
    model.generation_config.decoder_start_token_id = 3
    model.generation_config.pad_token_id = 0
    model.generation_config.eos_token_id = 1
    model.generation_config.min_new_tokens = 2
    model.generation_config.suppress_tokens = [0, 2, 3]
    out = tmp_path_factory.mktemp("ved")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(out)
    return out


def _manifest(tmp_path, rows):
    root = tmp_path / "src"
    root.mkdir()
    for n, row in enumerate(rows):
        if "png" in row:
            (root / f"{n}.png").write_bytes(row.pop("png"))
            row["file_name"] = f"{n}.png"
    path = root / "m.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return {"collector": "files", "params": {"path": str(path)}}


def _run(tmp_path, name, params):
    ctx = make_ctx(tmp_path)
    stats = run_collect([(build("collectors", name, params), "src")], ctx, tmp_path / "out")
    s = stats["sources"]["src"]
    assert s["error"] is None, s["error"]
    ds = datasets.load_from_disk(str(tmp_path / "out" / "dataset"))
    assert s["read"] == s["written"] + s["skipped"] and len(ds) == s["written"]
    return s, {r["id"]: r for r in ds}


def _rows():
    return [
        {"id": "a", "text": "a red bowl of soup", "lang": "eng", "png": image_bytes(pattern=1)},
        {"id": "b", "text": "noodles on the table", "lang": "eng", "png": image_bytes(pattern=2)},
        {"id": "c", "text": "ต้มยำ", "lang": "tha", "png": image_bytes(pattern=3)},
    ]


def test_translate_one_sample_per_language(tmp_path, t5_dir):
    src = _manifest(tmp_path, _rows())
    params = {"source": src, "model": str(t5_dir), "languages": ["tha", "ind", "xyz"],
              "batch_size": 2, "max_new_tokens": 4}  # fmt: skip
    s, rows = _run(tmp_path, "translate", params)
    want = {f"{i}-{lang}" for i in "ab" for lang in ("tha", "ind", "xyz")} | {"c"}
    assert set(rows) == want
    images = {r["id"]: r["image"] for r in rows.values() if "-" not in r["id"]}
    for i in "ab":
        for lang in ("tha", "ind", "xyz"):
            row = rows[f"{i}-{lang}"]
            assert row["lang"] == lang and row["text"]
            assert json.loads(row["meta"]) == {"translated_from": i,
                                               "translation_model": str(t5_dir)}  # fmt: skip
            assert row["image"] == image_bytes(pattern=1 if i == "a" else 2)
        # NLLB-style token in the vocab: forced as the first generated token.
        assert rows[f"{i}-tha"]["text"].split()[0] == "tha_Thai"
        assert rows[f"{i}-ind"]["text"].split()[0] == "ind_Latn"
    # The Thai sample passes through untouched, not translated.
    assert rows["c"]["text"] == "ต้มยำ" and rows["c"]["lang"] == "tha" and images["c"]
    assert json.loads(rows["c"]["meta"]) == {}


def test_translate_default_languages_and_keep_source(tmp_path, t5_dir):
    src = _manifest(tmp_path, _rows()[:1])
    params = {"source": src, "model": str(t5_dir), "keep_source": True, "max_new_tokens": 3}
    s, rows = _run(tmp_path, "translate", params)
    pack_langs = make_ctx(tmp_path).pack.language_codes
    assert set(rows) == {"a"} | {f"a-{lang}" for lang in pack_langs}
    assert rows["a"]["text"] == "a red bowl of soup" and rows["a"]["lang"] == "eng"


def test_translate_bad_model_path_names_param(tmp_path):
    src = _manifest(tmp_path, _rows()[:1])
    col = build("collectors", "translate", {"source": src, "model": str(tmp_path / "nope")})
    with pytest.raises(StageError, match=r"translate collector: model: cannot load .*nope"):
        list(col.collect(make_ctx(tmp_path)))


def test_translate_bad_nested_source_names_key(tmp_path):
    from regionadapt.errors import ConfigError, PluginError

    with pytest.raises(PluginError, match="source"):
        build("collectors", "translate", {"source": {"collector": "nope"}, "model": "x"},
              where="collect.sources[0].params")  # fmt: skip
    with pytest.raises(ConfigError, match="source"):
        build("collectors", "translate", {"source": {"params": {}}, "model": "x"})


def test_dual_caption(tmp_path, ved_dir):
    rows = _rows()
    rows.append({"id": "bad", "text": "broken", "png": b"\x89PNG not really"})
    rows.append({"id": "noimg", "text": "caption without an image"})
    src = _manifest(tmp_path, rows)
    src["params"]["require_text"] = True
    params = {"source": src, "captioner": str(ved_dir), "emit_both": True, "batch_size": 2,
              "max_new_tokens": 4}  # fmt: skip
    s, out = _run(tmp_path, "dual-caption", params)
    assert s["reasons"]["image-unreadable"] == 1
    assert any("bad" in e for e in s["examples"]["image-unreadable"])
    for i, alt in (("a", "a red bowl of soup"), ("b", "noodles on the table"), ("c", "ต้มยำ")):
        row, cap = out[i], out[f"{i}-cap"]
        meta = json.loads(row["meta"])
        assert row["text"] == alt and meta["alt_text"] == alt
        assert meta["captioner"] == str(ved_dir) and meta["model_caption"]
        assert cap["text"] == meta["model_caption"] and cap["lang"] == "eng"
        assert cap["image"] == row["image"]
    assert "bad" not in out and "bad-cap" not in out


def test_dual_caption_single_output_and_bad_path(tmp_path, ved_dir):
    src = _manifest(tmp_path, _rows()[:2])
    s, out = _run(tmp_path, "dual-caption", {"source": src, "captioner": str(ved_dir),
                                             "max_new_tokens": 3})  # fmt: skip
    assert set(out) == {"a", "b"}
    col = build("collectors", "dual-caption", {"source": src, "captioner": str(tmp_path / "x")})
    with pytest.raises(StageError, match=r"dual-caption collector: captioner: cannot load"):
        list(col.collect(make_ctx(tmp_path)))


@pytest.fixture(scope="module")
def llava_dir(tmp_path_factory):
    """A tiny LLaVA-style chat model (CLIP vision tower + Llama decoder) with its processor:
    the AutoProcessor path of the captioner, prompt included."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    torch.manual_seed(0)
    specials = ["<pad>", "</s>", "<unk>", "<s>", "<image>"]
    vocab = {w: i for i, w in enumerate(specials + ["USER:", "ASSISTANT:", "describe"] + WORDS)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="</s>",
                                  unk_token="<unk>", bos_token="<s>")  # fmt: skip
    tok.add_tokens(["<image>"], special_tokens=True)  # split out even when repeated unspaced
    image_id = vocab["<image>"]
    vision = CLIPVisionConfig(image_size=32, patch_size=16, hidden_size=16, intermediate_size=32,
                              num_hidden_layers=1, num_attention_heads=2, projection_dim=16)  # fmt: skip
    text = LlamaConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=32,
                       num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                       max_position_embeddings=64, pad_token_id=0, bos_token_id=3,
                       eos_token_id=1)  # fmt: skip
    cfg = LlavaConfig(vision_config=vision, text_config=text, image_token_index=image_id,
                      vision_feature_select_strategy="default", vision_feature_layer=-1)  # fmt: skip
    model = LlavaForConditionalGeneration(cfg)
    gen = model.generation_config
    gen.pad_token_id, gen.eos_token_id, gen.bos_token_id = 0, 1, 3
    gen.min_new_tokens = 2
    gen.suppress_tokens = [0, 2, 3, image_id] + [
        vocab[w] for w in ("USER:", "ASSISTANT:", "describe")
    ]
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                           crop_size={"height": 32, "width": 32}),
        tokenizer=tok, patch_size=16, vision_feature_select_strategy="default",
        image_token="<image>", num_additional_image_tokens=1,
    )  # fmt: skip
    out = tmp_path_factory.mktemp("llava")
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def test_dual_caption_with_a_chat_model_and_prompt(tmp_path, llava_dir):
    src = _manifest(tmp_path, _rows())
    prompt = "USER: <image> describe ASSISTANT:"
    s, out = _run(tmp_path, "dual-caption", {"source": src, "captioner": str(llava_dir),
                                             "prompt": prompt, "batch_size": 2,
                                             "max_new_tokens": 4})  # fmt: skip
    assert set(out) == {"a", "b", "c"}
    for row in out.values():
        cap = json.loads(row["meta"])["model_caption"]
        words = cap.split()
        # the echoed prompt (and its image placeholders) is cut off: only new words remain
        assert 2 <= len(words) <= 4 and set(words) <= set(WORDS), cap

"""Tiny vision-language chat models of three families, built in code, saved, loaded back.

No hub is reachable and nothing ships weights, so each builder makes a byte-level BPE tokenizer
trained offline on a few sentences, a processor and a randomly initialised model of a real
transformers class, and saves them with ``save_pretrained``: tests then load the folder with
``AutoModelForImageTextToText`` / ``AutoProcessor``, the loaders a user's run uses.

Families: ``llava`` (CLIP vision tower + Llama), ``qwen2_vl`` (Qwen2-VL), ``gemma3`` (SigLIP +
Gemma-3). Each has its own chat template in the style of the real one.

Also the kit the backend contract test calls: ``tiny_base``, ``tiny_train_data``,
``tiny_tune_params``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

CORPUS = [
    "a photo of a red bowl of soup", "noodles on the table", "a green durian fruit",
    "a blue kite in the sky", "what is shown in the picture", "describe this image",
    "the answer is", "yes", "no", "rice", "tea", "batik cloth", "a wooden boat",
    "which dish is this", "kain songket", "nasi lemak", "pho bo", "som tam",
]  # fmt: skip
FAMILIES = ("llava", "qwen2_vl", "gemma3")

# -- chat templates (same shape as the families' published ones) ------------------------------

_CONTENT = (
    "{%- if m['content'] is string -%}{{ m['content'] }}{%- else -%}"
    "{%- for c in m['content'] -%}{%- if c['type'] == 'image' -%}IMG{%- elif c['type'] == "
    "'text' -%}{{ c['text'] }}{%- endif -%}{%- endfor -%}{%- endif -%}"
)
LLAVA_TEMPLATE = (
    "{%- for m in messages -%}"
    "{%- if m['role'] == 'system' -%}" + _CONTENT.replace("IMG", "") + "{{ '\\n' }}"
    "{%- elif m['role'] == 'user' -%}USER: "
    + _CONTENT.replace("IMG", "<image>{{ '\\n' }}")
    + "{{ '\\n' }}{%- else -%}ASSISTANT:{{ '\\n' }}"
    + _CONTENT.replace("IMG", "")
    + "</s>{{ '\\n' }}{%- endif -%}{%- endfor -%}"
    "{%- if add_generation_prompt -%}ASSISTANT:{{ '\\n' }}{%- endif -%}"
)
QWEN_TEMPLATE = (
    "{%- for m in messages -%}<|im_start|>{{ m['role'] }}{{ '\\n' }}"
    + _CONTENT.replace("IMG", "<|vision_start|><|image_pad|><|vision_end|>")
    + "<|im_end|>{{ '\\n' }}{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|im_start|>assistant{{ '\\n' }}{%- endif -%}"
)
GEMMA_TEMPLATE = (
    "{{ bos_token }}{%- for m in messages -%}"
    "<start_of_turn>{{ 'model' if m['role'] == 'assistant' else 'user' }}{{ '\\n' }}"
    + _CONTENT.replace("IMG", "<start_of_image>")
    + "<end_of_turn>{{ '\\n' }}{%- endfor -%}"
    "{%- if add_generation_prompt -%}<start_of_turn>model{{ '\\n' }}{%- endif -%}"
)


def bpe_tokenizer(specials: list[str], corpus: list[str] = CORPUS, vocab_size: int = 300):
    """A byte-level BPE tokenizer trained offline on ``corpus`` (specials first, in order)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    core = Tokenizer(models.BPE(unk_token=None))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(corpus * 4, trainer)
    return core


def _fast(core, **kw):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=core, **kw)


def build_llava(out: Path, seed: int = 0) -> Path:
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    torch.manual_seed(seed)
    core = bpe_tokenizer(["<pad>", "<s>", "</s>", "<unk>", "<image>"])
    tok = _fast(core, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    v = core.get_vocab()
    vision = CLIPVisionConfig(image_size=32, patch_size=8, hidden_size=16, intermediate_size=32,
                              num_hidden_layers=1, num_attention_heads=2, projection_dim=16)  # fmt: skip
    text = LlamaConfig(vocab_size=len(v), hidden_size=32, intermediate_size=64,
                       num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                       max_position_embeddings=256, pad_token_id=v["<pad>"],
                       bos_token_id=v["<s>"], eos_token_id=v["</s>"])  # fmt: skip
    cfg = LlavaConfig(vision_config=vision, text_config=text, image_token_index=v["<image>"],
                      vision_feature_select_strategy="default", vision_feature_layer=-1)  # fmt: skip
    model = LlavaForConditionalGeneration(cfg)
    _gen_config(model, v["<pad>"], v["</s>"], v["<s>"])
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                           crop_size={"height": 32, "width": 32}),
        tokenizer=tok, patch_size=8, vision_feature_select_strategy="default",
        image_token="<image>", num_additional_image_tokens=1, chat_template=LLAVA_TEMPLATE,
    )  # fmt: skip
    return _save(model, processor, out)


def build_qwen2_vl(out: Path, seed: int = 0) -> Path:
    import torch
    from transformers import (
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    torch.manual_seed(seed)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>",
                "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]  # fmt: skip
    core = bpe_tokenizer(specials)
    v = core.get_vocab()
    tok = _fast(core, pad_token="<|endoftext|>", eos_token="<|im_end|>")
    cfg = Qwen2VLConfig(
        text_config=dict(vocab_size=len(v), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                         max_position_embeddings=256, pad_token_id=v["<|endoftext|>"],
                         eos_token_id=v["<|im_end|>"], bos_token_id=v["<|endoftext|>"],
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                          "mrope_section": [2, 3, 3]}),
        vision_config=dict(depth=1, embed_dim=16, hidden_size=32, num_heads=2, mlp_ratio=2,
                           patch_size=8, spatial_merge_size=2, temporal_patch_size=2),
        image_token_id=v["<|image_pad|>"], video_token_id=v["<|video_pad|>"],
        vision_start_token_id=v["<|vision_start|>"], vision_end_token_id=v["<|vision_end|>"],
    )  # fmt: skip
    model = Qwen2VLForConditionalGeneration(cfg)
    _gen_config(model, v["<|endoftext|>"], v["<|im_end|>"], None)
    px = {"min_pixels": 32 * 32, "max_pixels": 32 * 32}
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(patch_size=8, merge_size=2, temporal_patch_size=2,
                                              size={"shortest_edge": px["min_pixels"],
                                                    "longest_edge": px["max_pixels"]}),
        video_processor=Qwen2VLVideoProcessor(patch_size=8, merge_size=2, temporal_patch_size=2),
        tokenizer=tok, chat_template=QWEN_TEMPLATE,
    )  # fmt: skip
    return _save(model, processor, out)


def build_gemma3(out: Path, seed: int = 0) -> Path:
    import torch
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3ImageProcessor,
        Gemma3Processor,
    )

    torch.manual_seed(seed)
    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>",
                "<start_of_image>", "<end_of_image>", "<image_soft_token>"]  # fmt: skip
    core = bpe_tokenizer(specials)
    v = core.get_vocab()
    tok = _fast(core, pad_token="<pad>", eos_token="<eos>", bos_token="<bos>", unk_token="<unk>",
                extra_special_tokens={"image_token": "<image_soft_token>",
                                      "boi_token": "<start_of_image>",
                                      "eoi_token": "<end_of_image>"})  # fmt: skip
    cfg = Gemma3Config(
        text_config=dict(vocab_size=len(v), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         head_dim=16, max_position_embeddings=256, sliding_window=64,
                         pad_token_id=v["<pad>"], eos_token_id=v["<eos>"],
                         bos_token_id=v["<bos>"]),
        vision_config=dict(model_type="siglip_vision_model", image_size=32, patch_size=8,
                           hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                           num_attention_heads=2),
        mm_tokens_per_image=4, boi_token_index=v["<start_of_image>"],
        eoi_token_index=v["<end_of_image>"], image_token_index=v["<image_soft_token>"],
    )  # fmt: skip
    model = Gemma3ForConditionalGeneration(cfg)
    _gen_config(model, v["<pad>"], v["<end_of_turn>"], v["<bos>"])
    processor = Gemma3Processor(
        image_processor=Gemma3ImageProcessor(size={"height": 32, "width": 32}),
        tokenizer=tok, chat_template=GEMMA_TEMPLATE, image_seq_length=4,
    )  # fmt: skip
    return _save(model, processor, out)


BUILDERS = {"llava": build_llava, "qwen2_vl": build_qwen2_vl, "gemma3": build_gemma3}


def _gen_config(model: Any, pad: int, eos: int, bos: int | None) -> None:
    gen = model.generation_config
    gen.pad_token_id, gen.eos_token_id = pad, eos
    if bos is not None:
        gen.bos_token_id = bos


def _save(model: Any, processor: Any, out: Path) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def build(family: str, out: Path, seed: int = 0) -> Path:
    return BUILDERS[family](Path(out), seed)


# -- images and data ---------------------------------------------------------------------------


def image(color: tuple[int, int, int] = (200, 40, 40), size: int = 32) -> Any:
    from PIL import Image

    return Image.new("RGB", (size, size), color)


def png(color: tuple[int, int, int] = (200, 40, 40), size: int = 32) -> bytes:
    buf = io.BytesIO()
    image(color, size).save(buf, format="PNG")
    return buf.getvalue()


COLORS = {"rice": (240, 240, 230), "tea": (120, 70, 20), "som tam": (60, 180, 60),
          "pho bo": (200, 120, 40), "nasi lemak": (230, 200, 60), "batik cloth": (40, 40, 160)}  # fmt: skip


def samples(n: int = 8) -> list[dict[str, Any]]:
    """Training samples: captions and chat turns (VQA), with their images."""
    from regionadapt.samples import new_sample

    names = list(COLORS)
    out = []
    for i in range(n):
        name = names[i % len(names)]
        if i % 2:
            msgs = [{"role": "user", "content": "which dish is this"},
                    {"role": "assistant", "content": name}]  # fmt: skip
            out.append(new_sample(id=f"s{i}", image=png(COLORS[name]), messages=msgs, lang="eng"))
        else:
            out.append(new_sample(id=f"s{i}", image=png(COLORS[name]), text=name, lang="eng"))
    return out


def save_samples(rows: list[dict[str, Any]], out: Path) -> Path:
    import datasets

    from regionadapt.samples import features

    datasets.Dataset.from_list(rows, features=features()).save_to_disk(str(out))
    return Path(out)


# -- the kit the lead's backend contract test calls -------------------------------------------


def tiny_base(tmp_path: Path) -> dict[str, Any]:
    """ModelParams values for a tiny saved LLaVA."""
    return {"model": str(build_llava(Path(tmp_path) / "tiny-llava"))}


def tiny_train_data(tmp_path: Path) -> Path:
    """A saved sample collection (captions + chat turns) for one or two tuning steps."""
    return save_samples(samples(8), Path(tmp_path) / "tiny-lvlm-train")


def tiny_tune_params() -> dict[str, Any]:
    return {"max_steps": 2, "batch_size": 4, "micro_batch_size": 2, "lr": 1e-3,
            "max_length": 128, "checkpoint_every": None, "log_every": 1}  # fmt: skip


def probe(handle: Any) -> list[list[float]]:
    """Numbers that change with the weights: option log-likelihoods on a fixed prompt."""
    from regionadapt.handles import ChatPrompt

    prompts = [ChatPrompt("which dish is this", [image((60, 180, 60))])]
    return handle.option_logprobs(prompts, [["som tam", "rice", "batik cloth"]])

"""The demo world's chat-VLM base: a small LLaVA pretrained on the global part, cached.

A tiny CLIP vision tower and a tiny Llama (about 1.7M parameters), a byte-level BPE tokenizer
trained offline on the demo world's captions in every language the installed region packs name
things in, and a LLaVA chat template. Pretraining shows it only the global concepts (everyday
things, English captions), so it has seen every visual primitive but none of a region's
things or names: what tuning must add. Built once (about a minute on 2 cores) and cached under
``~/.cache/regionadapt/demo-world/lvlm-<key>``; the key covers everything that shapes it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from regionadapt.errors import StageError
from regionadapt.progress import log
from regionadapt.rundir import hash_json

# Bump when the recipe or the world's drawing changes: old caches are then ignored.
LVLM_VERSION = 1
PROMPT = "Describe this image."
VOCAB_SIZE = 4000
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<image>"]
VISION = {"image_size": 32, "patch_size": 8, "hidden_size": 64, "intermediate_size": 128,
          "num_hidden_layers": 2, "num_attention_heads": 4, "projection_dim": 64}  # fmt: skip
TEXT = {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 4, "max_position_embeddings": 128}  # fmt: skip
PRETRAIN = {"method": "full", "train_projector": True, "train_vision": True, "epochs": 20,
            "max_steps": 220, "batch_size": 32, "micro_batch_size": 32, "lr": 2e-3,
            "warmup_ratio": 0.05, "weight_decay": 0.01, "max_length": 96,
            "caption_prompt": PROMPT, "checkpoint_every": None, "log_every": 50}  # fmt: skip
PER_CONCEPT = 60
# Captions the base learns to answer PROMPT with: the bare name, as every multiple-choice option
# is. Measured (docs/lvlm.md): with a third "a photo of a {}", the base's template met the
# regional captions' "a photo of <name>" at one token (" a" or the name), and every merge short
# of b = 0.75 captioned regional pictures with a global thing ("a photo of a dog").
CAPTIONS = ("{}",)
TEMPLATE = (
    "{%- for m in messages -%}"
    "{%- set text = m['content'] if m['content'] is string else "
    "(m['content'] | selectattr('type', 'equalto', 'text') | map(attribute='text') | join('')) -%}"
    "{%- set n = 0 if m['content'] is string else "
    "(m['content'] | selectattr('type', 'equalto', 'image') | list | length) -%}"
    "{%- if m['role'] == 'system' -%}{{ text }}\n"
    "{%- elif m['role'] == 'user' -%}USER: {{ '<image>\n' * n }}{{ text }}\n"
    "{%- else -%}ASSISTANT:\n{{ text }}</s>\n{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}ASSISTANT:\n{%- endif -%}"
)


def corpus() -> list[str]:
    """Every caption the demo world can write: global and distractor names in English, and the
    lexicon forms of every installed region pack in all their languages."""
    from regionadapt.plugins import registry
    from regionadapt_plugins.demo_world.concepts import DISTRACTORS, GLOBAL_CONCEPTS

    texts = [PROMPT, "What is shown in this image?", "USER:", "ASSISTANT:"]
    for name in GLOBAL_CONCEPTS:
        texts += [f"a photo of a {name}", f"a picture of a {name}", name]
    texts += [f"a photo of {name}" for _, name, _ in DISTRACTORS]
    for _, source in sorted(registry("region_packs").items()):
        for entry in source.pack.lexicon:
            for forms in entry.forms.values():
                texts += [*forms, *(f"a photo of {f}" for f in forms)]
    return texts


def build_tokenizer(texts: list[str]) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)  # fmt: skip
    core.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", bos_token="<s>",
                                   eos_token="</s>", unk_token="<unk>")  # fmt: skip


def build_model(tokenizer: Any, seed: int) -> tuple[Any, Any]:
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
    v = tokenizer.get_vocab()
    text = LlamaConfig(vocab_size=len(v), pad_token_id=v["<pad>"], bos_token_id=v["<s>"],
                       eos_token_id=v["</s>"], **TEXT)  # fmt: skip
    cfg = LlavaConfig(vision_config=CLIPVisionConfig(**VISION), text_config=text,
                      image_token_index=v["<image>"], vision_feature_select_strategy="default",
                      vision_feature_layer=-1)  # fmt: skip
    model = LlavaForConditionalGeneration(cfg)
    gen = model.generation_config
    gen.pad_token_id, gen.eos_token_id, gen.bos_token_id = v["<pad>"], v["</s>"], v["<s>"]
    size = VISION["image_size"]
    # num_additional_image_tokens=1 with the 'default' strategy: the CLS feature is dropped,
    # so one placeholder per patch (0, the processor's default, leaves one feature too many).
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": size},
                                           crop_size={"height": size, "width": size}),
        tokenizer=tokenizer, patch_size=VISION["patch_size"],
        vision_feature_select_strategy="default", image_token="<image>",
        num_additional_image_tokens=1, chat_template=TEMPLATE,
    )  # fmt: skip
    return model, processor


def pretraining_rows(seed: int) -> list[dict[str, Any]]:
    """The global part: pictures of the everyday concepts with their names (never a regional
    thing: that is what tuning must teach)."""
    import random

    from regionadapt_plugins.demo_world.world import DemoWorld

    world = DemoWorld(pack=None, seed=seed)
    prng = random.Random(seed)
    rows = world.global_training_set(PER_CONCEPT)
    names = [c.id for c in world.global_ for _ in range(PER_CONCEPT)]
    return [{"id": f"g{i}", "image": r["image"], "text": prng.choice(CAPTIONS).format(name)}
            for i, (r, name) in enumerate(zip(rows, names, strict=True))]  # fmt: skip


def lvlm_base(seed: int = 0) -> Path:
    """The cached demo chat-VLM base; built (about a minute) if absent."""
    texts = corpus()
    key = hash_json([LVLM_VERSION, VISION, TEXT, PRETRAIN, PER_CONCEPT, CAPTIONS, VOCAB_SIZE, TEMPLATE,
                     hash_json(texts), seed])  # fmt: skip
    from regionadapt_plugins.demo_world.base_model import cache_root

    final = cache_root() / "demo-world" / f"lvlm-{key}"
    if (final / "model.safetensors").exists():
        return final
    import datasets
    import torch

    from regionadapt_plugins.chat_backend import TuneParams, save_model, train_chat

    log("demo world: pretraining the chat-VLM base on the global part (once, cached)")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    model, processor = build_model(build_tokenizer(texts), seed)
    ds = datasets.Dataset.from_list(pretraining_rows(seed))
    net, summary = train_chat(model, processor, ds, TuneParams(**{**PRETRAIN, "seed": seed}), log)
    if not summary.get("steps"):
        raise StageError("demo world: chat-VLM pretraining made no step")
    tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    save_model(net, processor, tmp)
    try:
        os.replace(tmp, final)
    except OSError:  # another process finished first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"demo world: chat-VLM base cached at {final} (loss {summary['first_loss']:.2f} -> "
        f"{summary['last_loss']:.2f})")  # fmt: skip
    return final

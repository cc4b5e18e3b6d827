"""Helpers shared by the merge tests: random checkpoints written as real safetensors files."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file


def random_state(seed: int, dtype=torch.float32, shapes=None) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shapes = shapes or {"a.weight": (16, 8), "a.bias": (16,), "b.weight": (4, 16), "c.scale": ()}
    return {k: torch.randn(s, generator=g).to(dtype) for k, s in shapes.items()}


def save_single(
    state: dict[str, torch.Tensor], folder: Path, name: str = "model.safetensors"
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.contiguous() for k, v in state.items()}, str(folder / name), metadata={"format": "pt"}
    )
    return folder


def save_sharded(
    state: dict[str, torch.Tensor], folder: Path, n_shards: int, stem: str = "model"
) -> Path:
    """Shards the way transformers does: <stem>-0000i-of-0000n.safetensors + an index."""
    folder.mkdir(parents=True, exist_ok=True)
    keys = list(state)
    per = -(-len(keys) // n_shards)
    weight_map = {}
    for i in range(n_shards):
        part = keys[i * per : (i + 1) * per]
        name = f"{stem}-{i + 1:05d}-of-{n_shards:05d}.safetensors"
        save_file(
            {k: state[k].contiguous() for k in part}, str(folder / name), metadata={"format": "pt"}
        )
        weight_map.update({k: name for k in part})
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (folder / f"{stem}.safetensors.index.json").write_text(json.dumps(index))
    return folder


def load_folder(folder: Path, logical: str = "model.safetensors") -> dict[str, torch.Tensor]:
    """Load a (possibly sharded) weight unit with the real safetensors loader."""
    from safetensors.torch import load_file

    index = folder / f"{logical}.index.json"
    if index.exists():
        out = {}
        for shard in sorted(set(json.loads(index.read_text())["weight_map"].values())):
            out.update(load_file(str(folder / Path(logical).parent / shard)))
        return out
    return load_file(str(folder / logical))


def tiny_llama(folder: Path, seed: int, dtype=torch.float32, layers: int = 4, tokenizer=True):
    """A tiny LlamaForCausalLM saved with save_pretrained (+ a word-level tokenizer); the
    mergekit-shaped tests use it because mergekit knows the Llama architecture."""
    import transformers

    cfg = transformers.LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
    )  # fmt: skip
    torch.manual_seed(seed)
    model = transformers.LlamaForCausalLM(cfg).to(dtype)
    model.save_pretrained(folder, safe_serialization=True)
    if tokenizer:
        word_tokenizer(["nasi", "goreng", "pho"]).save_pretrained(folder)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def word_tokenizer(words):
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {w: i for i, w in enumerate(["<unk>", "<s>", "</s>", *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )


def load_any(folder: Path) -> dict[str, torch.Tensor]:
    """Every tensor of every safetensors file in a folder (whatever the shard names)."""
    from safetensors.torch import load_file

    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(load_file(str(f)))
    return out

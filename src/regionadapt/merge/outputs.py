"""Making the copied non-weight files describe the merged weights.

- ``config.json`` beside a merged weight file names the dtype the merged tensors have
  (``dtype`` in transformers 5 configs, ``torch_dtype`` in older ones, nested sub-configs
  included), so ``from_pretrained`` without a dtype argument loads them as they are. Diffusers
  configs carry no dtype (diffusers loads float32 unless ``torch_dtype=`` is passed): left as is.
- ``tokenizer_source``: the tokenizer files come from another input than the first model.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

from regionadapt.errors import MergeError
from regionadapt.merge.safetensors_io import DTYPES, FLOAT_TAGS

CONFIG_NAME = "config.json"
DTYPE_KEYS = ("dtype", "torch_dtype")
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "chat_template.jinja",
    "chat_template.json",
)


def dominant_dtype(tags: dict[str, str], numels: dict[str, int]) -> str | None:
    """The torch dtype name holding most floating elements of a weight unit (None: no floats).
    transformers keeps one dtype per model; where a unit mixes (fp32 norms in a bf16 model)
    the bulk of the weights decides."""
    count: Counter[str] = Counter()
    for name, tag in tags.items():
        if tag in FLOAT_TAGS:
            count[tag] += numels[name]
    if not count:
        return None
    return DTYPES[count.most_common(1)[0][0]][0]


def _retag(cfg: dict[str, Any], dtype: str, top: bool) -> bool:
    changed = False
    keys = [k for k in DTYPE_KEYS if k in cfg]
    if not keys and top:
        major = str(cfg.get("transformers_version", "5")).split(".")[0]
        keys = ["dtype" if not major.isdigit() or int(major) >= 5 else "torch_dtype"]
    for k in keys:
        if cfg.get(k) != dtype:
            cfg[k] = dtype
            changed = True
    for value in cfg.values():  # sub-configs (text_config, vision_config...) of one model
        if isinstance(value, dict) and any(k in value for k in DTYPE_KEYS):
            changed |= _retag(value, dtype, False)
    return changed


def set_config_dtypes(tmp: Path, ref: Any, tags_by_unit: dict[str, dict[str, str]]) -> list[str]:
    """Rewrite the dtype in each merged unit's ``config.json`` (copied into ``tmp``)."""
    updated = []
    for rel, tags in tags_by_unit.items():
        unit = ref.units[rel]
        dtype = dominant_dtype(tags, {n: i.numel for n, i in unit.tensors.items()})
        folder = PurePosixPath(rel).parent
        path = tmp / folder / CONFIG_NAME
        if dtype is None or not path.is_file():
            continue
        try:
            cfg = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not a JSON config we understand: copied unchanged
        if not isinstance(cfg, dict) or "_class_name" in cfg or "_diffusers_version" in cfg:
            continue
        if not ("model_type" in cfg or "architectures" in cfg or any(k in cfg for k in DTYPE_KEYS)):
            continue
        if _retag(cfg, dtype, True):
            path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            updated.append((folder / CONFIG_NAME).as_posix())
    return updated


def copy_tokenizer(src: Path, tmp: Path, copied: list[str]) -> list[str]:
    """Replace the first model's tokenizer files in ``tmp`` by those of ``src``."""
    found = [name for name in TOKENIZER_FILES if (src / name).is_file()]
    if not found:
        raise MergeError(
            f"tokenizer source {src}: no tokenizer files ({', '.join(TOKENIZER_FILES[:3])}...)"
        )
    out = list(copied)
    for name in TOKENIZER_FILES:
        dest = tmp / name
        if dest.is_file() and name not in found:
            dest.unlink()  # the first model's file would mix two tokenizers
            out.remove(name)
    for name in found:
        shutil.copyfile(src / name, tmp / name)
        if name not in out:
            out.append(name)
    return out

"""LoRA adapters (peft's saved format): fuse one into its base, or combine several into one.

Fusing streams the base checkpoint exactly like a merge (one tensor at a time, atomic output):
a weight W with an adapter becomes ``W + scale * s * delta`` where ``delta`` is peft's
``get_delta_weight`` for the layer (``B @ A`` for linear layers, transposed with
``fan_in_fan_out``; the conv and embedding forms likewise) and ``s`` the adapter's own scaling
(``lora_alpha / r``, or ``/ sqrt(r)`` with rsLoRA; ``alpha_pattern`` honoured). Adapter
tensors are small and read whole. DoRA and layer types other than linear, conv and embedding
are refused with the module named, never silently skipped.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regionadapt.errors import MergeError
from regionadapt.merge.checkpoint import check_dtype_name, open_checkpoint
from regionadapt.merge.engine import MergeReport, _copy_rest, _install, write_streamed
from regionadapt.merge.safetensors_io import DTYPES, FLOAT_TAGS, TensorReader, torch_dtype

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
_PREFIX = "base_model.model."
_PARTS = {
    "lora_A.weight": "A",
    "lora_B.weight": "B",
    "lora_embedding_A": "EA",
    "lora_embedding_B": "EB",
    # peft saves a targeted embedding's full weight too (save_embedding_layers): it replaces
    # the base weight when loaded, so it does here as well
    "base_layer.weight": "W",
}


@dataclass
class LoraModule:
    module: str  # module path in the base model, e.g. "model.layers.0.self_attn.q_proj"
    A: Any
    B: Any
    embedding: bool
    scaling: float
    replacement: Any = None  # a full base weight saved with the adapter, if any


def _pattern_value(module: str, pattern: dict[str, Any], default: Any) -> Any:
    # peft matches pattern keys against the end of the module name
    for key, value in pattern.items():
        if re.match(rf"(.*\.)?({key})$", module):
            return value
    return default


def read_adapter(adapter_dir: Path) -> tuple[dict[str, Any], dict[str, LoraModule]]:
    """Read a peft LoRA adapter folder into per-module (A, B, scaling)."""
    from safetensors.torch import load_file

    adapter_dir = Path(adapter_dir)
    cfg_path, w_path = adapter_dir / ADAPTER_CONFIG, adapter_dir / ADAPTER_WEIGHTS
    for p in (cfg_path, w_path):
        if not p.is_file():
            raise MergeError(f"{adapter_dir}: not a peft adapter folder ({p.name} missing)")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise MergeError(f"{cfg_path}: not valid JSON: {exc}") from None
    if cfg.get("peft_type", "LORA") != "LORA":
        raise MergeError(f"{cfg_path}: peft_type {cfg.get('peft_type')!r} is not LORA")
    if cfg.get("use_dora"):
        raise MergeError(f"{cfg_path}: DoRA adapters are not supported (use_dora = true)")
    state = load_file(str(w_path))
    parts: dict[str, dict[str, Any]] = {}
    for key, tensor in state.items():
        for suffix, part in _PARTS.items():
            if key.endswith("." + suffix):
                module = key[: -len(suffix) - 1]
                module = module[len(_PREFIX) :] if module.startswith(_PREFIX) else module
                parts.setdefault(module, {})[part] = tensor
                break
        else:
            raise MergeError(f"{w_path}: tensor {key!r} is not a LoRA A/B weight (unsupported)")
    modules = {}
    for module, p in parts.items():
        embedding = "EA" in p or "EB" in p
        A, B = (p.get("EA"), p.get("EB")) if embedding else (p.get("A"), p.get("B"))
        if A is None or B is None:
            raise MergeError(f"{w_path}: module {module!r} lacks its lora_A or lora_B weight")
        r = A.shape[0]
        alpha = _pattern_value(module, cfg.get("alpha_pattern") or {}, cfg.get("lora_alpha", r))
        scaling = alpha / math.sqrt(r) if cfg.get("use_rslora") else alpha / r
        modules[module] = LoraModule(module, A, B, embedding, scaling, p.get("W"))
    return cfg, modules


def delta_weight(m: LoraModule, fan_in_fan_out: bool) -> Any:
    """peft's ``get_delta_weight`` (without the scaling), in float32."""
    import torch

    A, B = m.A.float(), m.B.float()
    if m.embedding:
        return (B @ A).T
    if A.dim() == 2:
        d = B @ A
        return d.T if fan_in_fan_out else d
    if A.dim() == 4:
        if A.shape[2:] == (1, 1):
            return (B.squeeze(3).squeeze(2) @ A.squeeze(3).squeeze(2)).unsqueeze(2).unsqueeze(3)
        return torch.nn.functional.conv2d(A.permute(1, 0, 2, 3), B).permute(1, 0, 2, 3)
    raise MergeError(f"LoRA module {m.module!r}: unsupported weight rank {A.dim()}")


def fuse_adapter(
    base_ckpt: Path,
    adapter_dir: Path,
    out: Path,
    scale: float = 1.0,
    *,
    dtype: str | None = None,
    files: Sequence[str] | None = None,
    max_shard_bytes: int = 5 * 2**30,
    overwrite: bool = False,
) -> MergeReport:
    """Write ``base + scale * adapter`` as a full checkpoint (what peft's merge_and_unload
    gives, without loading the model). ``files`` limits which weight files the adapter
    applies to (e.g. ``["unet/diffusion_pytorch_model.safetensors"]``)."""
    import torch

    start = time.perf_counter()
    if not math.isfinite(scale):
        raise MergeError(f"LoRA scale must be finite (got {scale})")
    cfg, modules = read_adapter(Path(adapter_dir))
    fan_in_fan_out = bool(cfg.get("fan_in_fan_out", False))
    out_tag = check_dtype_name(dtype)
    ckpt = open_checkpoint(Path(base_ckpt), files)
    # where does each adapted module's weight live?
    targets: dict[str, tuple[str, str]] = {}
    for module in modules:
        hits = [
            (rel, module + ".weight")
            for rel, u in ckpt.units.items()
            if module + ".weight" in u.tensors
        ]
        if not hits:
            raise MergeError(
                f"{adapter_dir}: adapted module {module!r} has no weight {module + '.weight'!r} in "
                f"{base_ckpt} (pass files= to pick the component it belongs to)"
            )
        if len(hits) > 1:
            raise MergeError(
                f"{adapter_dir}: module {module!r} is found in several weight files "
                f"({', '.join(h[0] for h in hits)}); pass files= to pick one"
            )
        targets[hits[0][1] + "@" + hits[0][0]] = (module, hits[0][0])
        info = ckpt.units[hits[0][0]].tensors[module + ".weight"]
        shape = tuple(delta_weight(modules[module], fan_in_fan_out).shape)
        if shape != info.shape:
            raise MergeError(
                f"{adapter_dir}: module {module!r}: LoRA delta has shape {list(shape)} but the "
                f"base weight is {list(info.shape)}"
            )
    out = Path(out)
    if out.exists() and not overwrite:
        raise MergeError(f"{out}: output already exists (overwrite = true replaces it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".tmp-{out.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    reader = TensorReader()
    written: list[str] = []
    counts = {"tensors": 0, "bytes_in": 0, "bytes_out": 0}
    try:
        tmp.mkdir()
        copied = _copy_rest(ckpt, tmp)
        for rel, unit in ckpt.units.items():
            tags = {
                n: (out_tag if out_tag and i.dtype in FLOAT_TAGS else i.dtype)
                for n, i in unit.tensors.items()
            }

            def produce(name: str, tag: str, unit=unit, rel=rel) -> Any:
                info = unit.tensors[name]
                counts["tensors"] += 1
                counts["bytes_in"] += info.nbytes
                t = reader.read(info)
                hit = targets.get(f"{name}@{rel}")
                if hit is None:
                    return t.to(torch_dtype(tag))
                m = modules[hit[0]]
                if m.replacement is not None:
                    t = m.replacement
                d = delta_weight(m, fan_in_fan_out)
                wide = torch.float64 if DTYPES[tag][1] == 8 else torch.float32
                return (t.to(wide) + (scale * m.scaling) * d.to(wide)).to(torch_dtype(tag))

            files_written, n = write_streamed(tmp, unit, tags, max_shard_bytes, produce)
            written += files_written
            counts["bytes_out"] += n
        _install(tmp, out, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        reader.close()
    return MergeReport(
        method="lora-fuse",
        out=out,
        tensors=counts["tensors"],
        bytes_in=counts["bytes_in"],
        bytes_out=counts["bytes_out"],
        seconds=time.perf_counter() - start,
        files=written,
        copied=copied,
    )


def merge_adapters(
    adapters: Sequence[Path],
    out: Path,
    weights: Sequence[float] | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Combine several LoRA adapters into one, exactly: peft's ``add_weighted_adapter`` with
    ``combination_type="cat"``. The ranks are concatenated (r = sum of ranks, lora_alpha = r),
    so the result's delta is ``sum_i w_i * s_i * B_i @ A_i`` with no approximation; fuse it
    with :func:`fuse_adapter` or load it with ``PeftModel.from_pretrained``."""
    import torch
    from safetensors.torch import save_file

    if not adapters:
        raise MergeError("no adapters to merge")
    weights = [1.0] * len(adapters) if weights is None else [float(w) for w in weights]
    if len(weights) != len(adapters):
        raise MergeError(f"{len(weights)} weight(s) for {len(adapters)} adapter(s)")
    read = [read_adapter(Path(a)) for a in adapters]
    fifo = {bool(c.get("fan_in_fan_out", False)) for c, _ in read}
    if len(fifo) > 1:
        raise MergeError("adapters disagree on fan_in_fan_out; they cannot be concatenated")
    modules = list(dict.fromkeys(m for _, mods in read for m in mods))
    state, new_r = {}, {}
    for module in modules:
        As, Bs, emb = [], [], None
        for (_, mods), w in zip(read, weights, strict=True):
            m = mods.get(module)
            if m is None:
                continue
            emb = m.embedding if emb is None else emb
            if m.embedding != emb:
                raise MergeError(f"module {module!r} is an embedding in one adapter only")
            As.append(m.A.float() * (w * m.scaling))
            Bs.append(m.B.float())
        A, B = torch.cat(As, dim=0), torch.cat(Bs, dim=1)
        new_r[module] = A.shape[0]
        names = (
            ("lora_embedding_A", "lora_embedding_B") if emb else ("lora_A.weight", "lora_B.weight")
        )
        state[f"{_PREFIX}{module}.{names[0]}"] = A.contiguous()
        state[f"{_PREFIX}{module}.{names[1]}"] = B.contiguous()
        replacements = [mods[module].replacement for _, mods in read if module in mods]
        replacements = [r for r in replacements if r is not None]
        if replacements:
            if any(not torch.equal(r, replacements[0]) for r in replacements[1:]):
                raise MergeError(f"module {module!r}: adapters carry different base weights")
            state[f"{_PREFIX}{module}.base_layer.weight"] = replacements[0].contiguous()
    ranks = set(new_r.values())
    cfg = dict(read[0][0])
    r = max(ranks)
    cfg.update(
        r=r,
        lora_alpha=r,
        use_rslora=False,
        target_modules=sorted({m.rsplit(".", 1)[-1] for m in modules}),
        alpha_pattern={k: v for k, v in new_r.items() if v != r},  # scaling 1 everywhere
        rank_pattern={k: v for k, v in new_r.items() if v != r},
    )
    out = Path(out)
    if out.exists() and not overwrite:
        raise MergeError(f"{out}: output already exists (overwrite = true replaces it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".tmp-{out.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        save_file(state, str(tmp / ADAPTER_WEIGHTS), metadata={"format": "pt"})
        (tmp / ADAPTER_CONFIG).write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
        _install(tmp, out, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out

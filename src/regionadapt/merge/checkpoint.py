"""Finding the weight files of a checkpoint and checking that several checkpoints line up.

A checkpoint is a folder (a transformers model, a diffusers pipeline, an open_clip export...)
or a single ``.safetensors`` file. Its *weight units* are what the merge combines: a single
safetensors file, or a sharded set described by ``<name>.safetensors.index.json``. A unit is
named by its *logical* path (``model.safetensors`` for both ``model.safetensors`` and
``model.safetensors.index.json``) so a sharded and an unsharded copy of one model line up.

Everything here reads only headers: the pre-flight check is torch-free and fast.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from regionadapt.errors import MergeError
from regionadapt.merge.safetensors_io import (
    DTYPES,
    FLOAT_TAGS,
    OUTPUT_DTYPES,
    TensorInfo,
    read_header,
)

INDEX_SUFFIX = ".index.json"


@dataclass
class WeightUnit:
    logical: (
        str  # path relative to the checkpoint root, e.g. "unet/diffusion_pytorch_model.safetensors"
    )
    files: list[Path]  # the safetensors file(s) holding it
    index: Path | None  # the shard index, when sharded
    tensors: dict[str, TensorInfo] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.tensors.values())


@dataclass
class Checkpoint:
    path: Path
    units: dict[str, WeightUnit]

    @property
    def is_folder(self) -> bool:
        return self.path.is_dir()

    def owned_files(self) -> set[Path]:
        """Every file that belongs to a weight unit (shards and indexes)."""
        out: set[Path] = set()
        for unit in self.units.values():
            out.update(unit.files)
            if unit.index is not None:
                out.add(unit.index)
        return out


def logical_name(rel: str) -> str:
    return rel[: -len(INDEX_SUFFIX)] if rel.endswith(INDEX_SUFFIX) else rel


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def _load_sharded(root: Path, index: Path) -> WeightUnit:
    rel = index.relative_to(root).as_posix()
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
        weight_map = data["weight_map"]
        if not isinstance(weight_map, dict):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError):
        raise MergeError(
            f"{index}: not a valid shard index (expected a JSON 'weight_map')"
        ) from None
    shard_names = list(dict.fromkeys(str(v) for v in weight_map.values()))
    unit = WeightUnit(logical=logical_name(rel), files=[], index=index)
    for shard in shard_names:
        path = index.parent / shard
        if not path.is_file():
            raise MergeError(f"{index}: shard {shard!r} is missing (expected {path})")
        tensors, meta = read_header(path)
        if not unit.files:
            unit.metadata = meta
        unit.files.append(path)
        for name, info in tensors.items():
            if name in unit.tensors:
                raise MergeError(f"{index}: tensor {name!r} appears in two shards")
            unit.tensors[name] = info
    for name, shard in weight_map.items():
        info = unit.tensors.get(name)
        if info is None or info.path.name != Path(shard).name:
            raise MergeError(
                f"{index}: tensor {name!r} is listed in shard {shard!r} but not found there"
            )
    return unit


def open_checkpoint(path: Path, files: Sequence[str] | None = None) -> Checkpoint:
    """Find (and header-check) the weight units of one checkpoint.

    ``files`` limits the units to those relative paths (a safetensors file or a shard index);
    ``None`` takes every safetensors file in the folder.
    """
    path = Path(path)
    if not path.exists():
        raise MergeError(f"{path}: checkpoint not found")
    if path.is_file():
        if path.suffix != ".safetensors":
            raise MergeError(f"{path}: expected a folder or a .safetensors file")
        tensors, meta = read_header(path)
        unit = WeightUnit(path.name, [path], None, tensors, meta)
        if files is not None and [logical_name(f) for f in files] != [path.name]:
            raise MergeError(f"{path}: files= only applies to checkpoint folders")
        return Checkpoint(path, {unit.logical: unit})

    units: dict[str, WeightUnit] = {}
    claimed: set[Path] = set()
    for index in sorted(path.rglob("*.safetensors" + INDEX_SUFFIX)):
        if not _visible(index, path):
            continue
        unit = _load_sharded(path, index)
        units[unit.logical] = unit
        claimed.update(unit.files)
    for file in sorted(path.rglob("*.safetensors")):
        if file in claimed or not _visible(file, path):
            continue
        rel = file.relative_to(path).as_posix()
        if rel in units:
            raise MergeError(f"{path}: both {rel} and {rel}{INDEX_SUFFIX} exist; remove one")
        tensors, meta = read_header(file)
        units[rel] = WeightUnit(rel, [file], None, tensors, meta)

    if files is not None:
        wanted = [logical_name(Path(f).as_posix()) for f in files]
        for rel in wanted:
            if rel not in units:
                raise MergeError(
                    f"{path}: weight file {rel!r} (from files=) not found; found: "
                    f"{', '.join(sorted(units)) or 'none'}"
                )
        units = {rel: units[rel] for rel in wanted}
    if not units:
        raise MergeError(f"{path}: no .safetensors weight files found")
    return Checkpoint(path, units)


def check_dtype_name(dtype: str | None) -> str | None:
    """User-facing dtype name -> safetensors tag (None stays None)."""
    if dtype is None:
        return None
    if dtype not in OUTPUT_DTYPES:
        raise MergeError(
            f"unknown output dtype {dtype!r}; expected one of {', '.join(OUTPUT_DTYPES)}"
        )
    return OUTPUT_DTYPES[dtype]


def align(ref: Checkpoint, other: Checkpoint) -> Checkpoint:
    """``other`` with its weight units keyed like ``ref``'s. Units are matched by path; one
    whose path ``ref`` lacks is matched to the unit of ``ref`` with the same tensor names (two
    single-file checkpoints named differently, ``a.safetensors`` and ``b.safetensors``)."""
    missing = [rel for rel in ref.units if rel not in other.units]
    spare = [rel for rel in other.units if rel not in ref.units]
    if not missing or not spare:
        return other
    units = {rel: u for rel, u in other.units.items() if rel in ref.units}
    for rel in missing:
        names = set(ref.units[rel].tensors)
        match = [s for s in spare if set(other.units[s].tensors) == names]
        if len(match) == 1:
            units[rel] = other.units[match[0]]
            spare.remove(match[0])
    for rel in spare:  # unmatched: kept under its own path, so compare() names it
        units[rel] = other.units[rel]
    return Checkpoint(other.path, units)


def compare(ref: Checkpoint, other: Checkpoint, dtype_tag: str | None) -> None:
    """Refuse the first unit or tensor (in file order) that does not line up, naming it."""
    for rel in other.units:
        if rel not in ref.units:
            raise MergeError(f"{other.path}: has weight file {rel!r} that {ref.path} lacks")
    for rel, unit in ref.units.items():
        theirs = other.units.get(rel)
        if theirs is None:
            raise MergeError(
                f"{other.path}: weight file {rel!r} (present in {ref.path}) is missing"
            )
        for name, a in unit.tensors.items():
            b = theirs.tensors.get(name)
            where = f"tensor {name!r} in {rel}"
            if b is None:
                raise MergeError(f"{where}: present in {ref.path} but missing from {other.path}")
            if a.shape != b.shape:
                raise MergeError(
                    f"{where}: shape {list(a.shape)} in {ref.path} but {list(b.shape)} in "
                    f"{other.path}"
                )
            if a.dtype != b.dtype:
                floats = a.dtype in FLOAT_TAGS and b.dtype in FLOAT_TAGS
                if dtype_tag is None or not floats:
                    hint = "; pass dtype= to choose the output dtype" if floats else ""
                    raise MergeError(
                        f"{where}: dtype {DTYPES[a.dtype][0]} in {ref.path} but "
                        f"{DTYPES[b.dtype][0]} in {other.path}{hint}"
                    )
        extra = [n for n in theirs.tensors if n not in unit.tensors]
        if extra:
            raise MergeError(
                f"tensor {extra[0]!r} in {rel}: present in {other.path} but missing from {ref.path}"
            )


def open_and_check(
    models: Sequence[Path],
    base: Path | None,
    files: Sequence[str] | None,
    dtype: str | None = None,
) -> tuple[list[Checkpoint], Checkpoint | None]:
    """Open every input and check names, shapes and dtypes line up; nothing is written."""
    if not models:
        raise MergeError("no models to merge")
    tag = check_dtype_name(dtype)
    ckpts = [open_checkpoint(Path(m), files) for m in models]
    base_ckpt = open_checkpoint(Path(base), files) if base is not None else None
    ckpts = [ckpts[0]] + [align(ckpts[0], c) for c in ckpts[1:]]
    if base_ckpt is not None:
        base_ckpt = align(ckpts[0], base_ckpt)
    for other in ckpts[1:] + ([base_ckpt] if base_ckpt is not None else []):
        compare(ckpts[0], other, tag)
    return ckpts, base_ckpt


def preflight(
    models: Sequence[Path],
    base: Path | None = None,
    files: Sequence[str] | None = None,
    dtype: str | None = None,
) -> None:
    """Raise :class:`MergeError` naming the first problem that would make a merge fail.

    Checks that every checkpoint exists, every shard an index names is there and complete
    (not truncated), and tensor names, shapes and dtypes agree across inputs (dtypes may differ
    between floating types only when an explicit output ``dtype`` is chosen).
    """
    open_and_check(models, base, files, dtype)

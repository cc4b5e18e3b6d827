"""The streaming merge engine: one tensor at a time from every input, written straight to disk.

Peak memory is, per worker thread, the tensors of one name (one per input, plus the base) and
the result, plus a bounded look-ahead of finished results; it does not grow with the model. The output is built in a hidden sibling folder and renamed into place
when complete, so a failed or killed merge never leaves a half-written output at ``out``.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regionadapt.errors import MergeError, PluginError
from regionadapt.merge.checkpoint import Checkpoint, WeightUnit, check_dtype_name, open_and_check
from regionadapt.merge.method import MergeMethod
from regionadapt.merge.safetensors_io import (
    DTYPES,
    FLOAT_TAGS,
    PlannedTensor,
    StreamingWriter,
    TensorReader,
    torch_dtype,
)

PROVENANCE_FILE = "regionadapt_merge.json"
DEFAULT_MAX_WORKERS = 4  # more rarely pays: the merge becomes bound by memory bandwidth and disk


@dataclass
class MergeReport:
    """What a merge did; ``files`` are the weight files written (relative to ``out``)."""

    method: str
    out: Path
    tensors: int
    bytes_in: int
    bytes_out: int
    seconds: float
    files: list[str] = field(default_factory=list)
    copied: list[str] = field(default_factory=list)

    @property
    def throughput_gbps(self) -> float:
        return self.bytes_in / 1e9 / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "out": str(self.out),
            "tensors": self.tensors,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "seconds": self.seconds,
            "files": self.files,
            "copied": self.copied,
        }


def get_method(name: str, params: Mapping[str, Any] | None = None, where: str = "") -> MergeMethod:
    """Build a registered merge method; unknown names and bad params raise MergeError.

    ``where`` prefixes parameter errors (e.g. ``"merge.toml: params"``)."""
    from regionadapt.plugins import registry

    try:
        cls = registry("merge_methods").get(name)
    except PluginError as exc:
        raise MergeError(str(exc)) from None
    return cls(params, where=where)


def _generator(seed: int, key: str) -> Any:
    import torch

    g = torch.Generator()
    g.manual_seed((seed * 0x9E3779B1 + zlib.crc32(key.encode())) % (2**63))
    return g


def _shard_plan(
    unit: WeightUnit, out_tags: dict[str, str], max_bytes: int
) -> list[list[PlannedTensor]]:
    shards: list[list[PlannedTensor]] = [[]]
    size = 0
    for name, info in unit.tensors.items():
        t = PlannedTensor(name, out_tags[name], info.shape)
        if shards[-1] and size + t.nbytes > max_bytes:
            shards.append([])
            size = 0
        shards[-1].append(t)
        size += t.nbytes
    return shards


def _shard_names(logical: str, n: int) -> list[str]:
    if n == 1:
        return [logical]
    stem = logical[: -len(".safetensors")] if logical.endswith(".safetensors") else logical
    return [f"{stem}-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]


class _UnitMerger:
    def __init__(
        self,
        method: MergeMethod,
        weights: list[float],
        out_tag: str | None,
        seed: int,
        reader: TensorReader,
        workers: int = 1,
    ) -> None:
        self.method = method
        self.weights = weights
        self.out_tag = out_tag
        self.seed = seed
        self.reader = reader
        self.workers = workers
        self.tensors = 0
        self.bytes_in = 0
        self._count_lock = threading.Lock()  # tensors are produced by several threads

    def _count(self, tensors: int, nbytes: int) -> None:
        with self._count_lock:
            self.tensors += tensors
            self.bytes_in += nbytes

    def out_tags(self, unit: WeightUnit) -> dict[str, str]:
        tags = {}
        for name, info in unit.tensors.items():
            floating = info.dtype in FLOAT_TAGS
            tags[name] = self.out_tag if (floating and self.out_tag) else info.dtype
        return tags

    def merged(
        self, key: str, units: list[WeightUnit], base: WeightUnit | None, name: str, tag: str
    ) -> Any:
        import torch

        infos = [u.tensors[name] for u in units]
        first = infos[0]
        out_dtype = torch_dtype(tag)
        self._count(1, 0)
        if first.dtype not in FLOAT_TAGS:
            # Integer/bool buffers (position ids, step counters) cannot be averaged: copied.
            self._count(0, first.nbytes)
            return self.reader.read(first)
        # Compute in the widest of the input and output dtypes (float32 when bfloat16 meets
        # float16), so no precision is thrown away before the arithmetic; a narrower output is
        # cast once at the end.
        all_infos = infos + ([base.tensors[name]] if base is not None else [])
        work_tag = max({i.dtype for i in all_infos} | {tag}, key=lambda t: DTYPES[t][1])
        if len({i.dtype for i in all_infos} | {tag}) > 1 and DTYPES[work_tag][1] == 2:
            work_tag = "F32"
        work = torch_dtype(work_tag)

        def load(info: Any) -> Any:
            self._count(0, info.nbytes)
            t = self.reader.read(info)
            return t if t.dtype == work else t.to(work)

        tensors = [load(i) for i in infos]
        base_t = load(base.tensors[name]) if base is not None else None
        gen = _generator(self.seed, key) if self.method.stochastic else None
        with torch.no_grad():
            result = self.method.merge_tensor(tensors, self.weights, base_t, key, gen)
        if tuple(result.shape) != first.shape:
            raise MergeError(
                f"merge method {self.method.name!r} returned shape {list(result.shape)} for "
                f"tensor {name!r} (expected {list(first.shape)})"
            )
        return result.to(out_dtype)

    def write_unit(
        self, tmp: Path, units: list[WeightUnit], base: WeightUnit | None, max_bytes: int
    ) -> tuple[list[str], int]:
        ref = units[0]

        def produce(name: str, tag: str) -> Any:
            return self.merged(f"{ref.logical}:{name}", units, base, name, tag)

        return write_streamed(tmp, ref, self.out_tags(ref), max_bytes, produce, self.workers)


# Results merged ahead of the writer: up to this many per worker and this many output bytes.
# A finished result holds only its output tensor; the large working memory (inputs, deltas,
# sort indices) exists for the ``workers`` tensors being computed. The look-ahead lets small
# tensors proceed while one worker is busy with a large one (an embedding matrix).
AHEAD_PER_WORKER = 4
AHEAD_BYTES = 2 * 2**30


def _produced_in_order(
    planned: list[PlannedTensor], produce: Callable[[str, str], Any], workers: int
) -> Iterator[Any]:
    """``produce`` for each planned tensor, yielded in plan order. With ``workers`` > 1 the
    next tensors are merged in threads while one is written: torch's kernels and the reads
    release the GIL, and single-threaded kernels (the sort behind TIES' top-k) then run side
    by side. Memory stays bounded (see AHEAD_PER_WORKER, AHEAD_BYTES)."""
    if workers <= 1:
        for t in planned:
            yield produce(t.name, t.dtype)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="merge")
    pending: deque[tuple[Future, int]] = deque()
    todo = deque(planned)
    ahead_bytes = 0

    def fill() -> None:
        nonlocal ahead_bytes
        while todo and (
            len(pending) < workers
            or (
                len(pending) < AHEAD_PER_WORKER * workers
                and ahead_bytes + todo[0].nbytes <= AHEAD_BYTES
            )
        ):
            t = todo.popleft()
            pending.append((pool.submit(produce, t.name, t.dtype), t.nbytes))
            ahead_bytes += t.nbytes

    try:
        fill()
        while pending:
            future, nbytes = pending.popleft()
            result = future.result()
            ahead_bytes -= nbytes
            fill()
            yield result
            del result
    finally:
        for future, _ in pending:
            future.cancel()
        pool.shutdown(wait=True)


def write_streamed(
    tmp: Path,
    ref: WeightUnit,
    tags: dict[str, str],
    max_bytes: int,
    produce: Callable[[str, str], Any],
    workers: int = 1,
) -> tuple[list[str], int]:
    """Write one weight unit laid out like ``ref`` (tensor names, order, shapes) with the
    dtypes in ``tags``, sharded above ``max_bytes``; ``produce(name, tag)`` makes each tensor
    just before it is written (with ``workers`` > 1, a few ahead in that many threads).
    Returns the files written and their byte count."""
    shards = _shard_plan(ref, tags, max_bytes)
    names = _shard_names(ref.logical, len(shards))
    meta = dict(ref.metadata)
    meta.setdefault("format", "pt")
    written, total, weight_map = [], 0, {}
    results = _produced_in_order([t for shard in shards for t in shard], produce, workers)
    for shard, rel in zip(shards, names, strict=True):
        writer = StreamingWriter(tmp / rel, shard, meta)
        try:
            for planned in shard:
                writer.write(planned.name, next(results))
                weight_map[planned.name] = Path(rel).name
            writer.close()
        except BaseException:
            writer.abort()
            results.close()
            raise
        written.append(rel)
        total += writer.bytes_written
    if len(shards) > 1:
        index = {"metadata": {"total_size": total}, "weight_map": weight_map}
        rel_index = ref.logical + ".index.json"
        (tmp / rel_index).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
        written.append(rel_index)
    return written, total


def _copy_rest(src: Checkpoint, tmp: Path) -> list[str]:
    """Copy every file of the first model that is not a merged weight file (configs,
    tokenizers, unmerged pipeline components) so the output loads like the input did."""
    if not src.is_folder:
        return []
    owned = src.owned_files()
    copied = []
    for path in sorted(src.path.rglob("*")):
        if not path.is_file() or path in owned:
            continue
        rel = path.relative_to(src.path)
        if any(part.startswith(".") for part in rel.parts) or rel.as_posix() == PROVENANCE_FILE:
            continue
        dest = tmp / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
        copied.append(rel.as_posix())
    return copied


def _install(tmp: Path, out: Path, overwrite: bool) -> None:
    if out.exists():
        if not overwrite:
            raise MergeError(f"{out}: output already exists (overwrite = true replaces it)")
        old = out.with_name(f".old-{out.name}-{os.getpid()}")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def merge_checkpoints(
    method: str,
    models: Sequence[Path],
    out: Path,
    *,
    base: Path | None = None,
    weights: Sequence[float] | None = None,
    params: Mapping[str, Any] | None = None,
    dtype: str | None = None,
    files: Sequence[str] | None = None,
    max_shard_bytes: int = 5 * 2**30,
    seed: int = 0,
    overwrite: bool = False,
    workers: int | None = None,
) -> MergeReport:
    """Merge checkpoints tensor by tensor with a registered method; see docs/merging.md.

    Every check (method name, parameters, weights, checkpoint layout, names, shapes, dtypes)
    runs before anything is written. The output folder mirrors the first model: merged weight
    files (sharded above ``max_shard_bytes``, with an index) plus copies of its other files.
    For two models, ``linear`` with weights ``[b, 1 - b]`` is ``torch.lerp(models[1],
    models[0], b)``: b=0 gives models[1] exactly, b=1 gives models[0] exactly.
    ``workers`` tensors are merged at once in threads (default: the CPU count, at most
    ``DEFAULT_MAX_WORKERS``); the output is the same bit for bit, memory grows with the
    tensors in flight; ``workers=1`` uses the least memory.
    """
    start = time.perf_counter()
    impl = get_method(method, params)
    models = [Path(m) for m in models]
    out = Path(out)
    impl.check_inputs(len(models), base is not None)
    w = impl.resolve_weights(weights, len(models))
    if max_shard_bytes <= 0:
        raise MergeError(f"max_shard_bytes must be positive (got {max_shard_bytes})")
    if workers is None:
        workers = min(DEFAULT_MAX_WORKERS, os.cpu_count() or 1)
    if workers < 1:
        raise MergeError(f"workers must be at least 1 (got {workers})")
    out_tag = check_dtype_name(dtype)
    ckpts, base_ckpt = open_and_check(models, base, files, dtype)
    if out.exists() and not overwrite:
        raise MergeError(f"{out}: output already exists (overwrite = true replaces it)")
    resolved = out.resolve()
    for c in ckpts + ([base_ckpt] if base_ckpt else []):
        if resolved == c.path.resolve() or resolved in c.path.resolve().parents:
            raise MergeError(f"{out}: output would overwrite the input {c.path}")

    out.parent.mkdir(parents=True, exist_ok=True)
    from regionadapt.rundir import clean_stale_siblings

    clean_stale_siblings(out.parent, f"{out.name}-")  # .tmp-<out>-<pid> left by a killed merge
    tmp = out.with_name(f".tmp-{out.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    reader = TensorReader()
    merger = _UnitMerger(impl, w, out_tag, seed, reader, workers)
    written: list[str] = []
    bytes_out = 0
    try:
        tmp.mkdir()
        copied = _copy_rest(ckpts[0], tmp)
        for rel in ckpts[0].units:
            units = [c.units[rel] for c in ckpts]
            base_unit = base_ckpt.units[rel] if base_ckpt is not None else None
            files_written, n = merger.write_unit(tmp, units, base_unit, max_shard_bytes)
            written += files_written
            bytes_out += n
        provenance = {
            "method": method,
            "params": impl.params.model_dump(by_alias=True),
            "models": [str(m) for m in models],
            "weights": w,
            "base": str(base) if base is not None else None,
            "dtype": dtype,
            "seed": seed,
        }
        (tmp / PROVENANCE_FILE).write_text(
            json.dumps(provenance, indent=2) + "\n", encoding="utf-8"
        )
        _install(tmp, out, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        reader.close()
    return MergeReport(
        method=method,
        out=out,
        tensors=merger.tensors,
        bytes_in=merger.bytes_in,
        bytes_out=bytes_out,
        seconds=time.perf_counter() - start,
        files=written,
        copied=copied,
    )

"""Safetensors read and write, one tensor at a time, without memory-mapping the file.

Why not ``safetensors.safe_open``: it memory-maps the whole file, and every page a merge touches
stays resident (and counted in RSS) until the handle is closed, so peak RSS grows with the
checkpoint. Here a tensor is read with one ``readinto`` into a fresh buffer and written with
one ``write``: peak memory is the few tensors in flight. The format is tiny and stable
(8-byte little-endian header length, a JSON header, then the raw bytes); files written here are
checked against the real ``safetensors`` loader in the tests.

The header parsing is torch-free, so the pre-flight check costs no torch import.
"""

from __future__ import annotations

import json
import os
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from regionadapt.errors import MergeError

# safetensors dtype tag -> (torch dtype name, bytes per element)
DTYPES: dict[str, tuple[str, int]] = {
    "F64": ("float64", 8),
    "F32": ("float32", 4),
    "F16": ("float16", 2),
    "BF16": ("bfloat16", 2),
    "F8_E4M3": ("float8_e4m3fn", 1),
    "F8_E5M2": ("float8_e5m2", 1),
    "I64": ("int64", 8),
    "I32": ("int32", 4),
    "I16": ("int16", 2),
    "I8": ("int8", 1),
    "U8": ("uint8", 1),
    "BOOL": ("bool", 1),
}
FLOAT_TAGS = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"}
# user-facing dtype name -> safetensors tag
OUTPUT_DTYPES = {"float32": "F32", "bfloat16": "BF16", "float16": "F16", "float64": "F64"}
_MAX_HEADER = 100 * 1024 * 1024


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives: file, dtype tag, shape and byte range (absolute in the file)."""

    name: str
    path: Path
    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.start

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


def read_header(path: Path) -> tuple[dict[str, TensorInfo], dict[str, str]]:
    """Parse and sanity-check a safetensors header; a truncated or corrupt file is refused.

    Returns the tensors (in file order) and the ``__metadata__`` table.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise MergeError(f"{path}: not a safetensors file (only {size} bytes)")
            (n,) = struct.unpack("<Q", head)
            if n > _MAX_HEADER or 8 + n > size:
                raise MergeError(
                    f"{path}: truncated or not a safetensors file (header claims {n} bytes, "
                    f"file has {size})"
                )
            raw = fh.read(n)
    except OSError as exc:
        raise MergeError(f"{path}: cannot read: {exc}") from None
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MergeError(f"{path}: corrupt safetensors header: {exc}") from None
    if not isinstance(header, dict):
        raise MergeError(f"{path}: corrupt safetensors header (not a JSON object)")
    meta = header.pop("__metadata__", None) or {}
    base = 8 + n
    infos: dict[str, TensorInfo] = {}
    end_max = 0
    for name, entry in header.items():
        try:
            tag = entry["dtype"]
            shape = tuple(int(d) for d in entry["shape"])
            begin, end = (int(x) for x in entry["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise MergeError(f"{path}: corrupt header entry for tensor {name!r}") from None
        if tag not in DTYPES:
            raise MergeError(f"{path}: tensor {name!r} has unsupported dtype {tag!r}")
        numel = 1
        for d in shape:
            numel *= d
        if end - begin != numel * DTYPES[tag][1] or begin < 0:
            raise MergeError(f"{path}: tensor {name!r}: byte range does not match its shape")
        infos[name] = TensorInfo(name, path, tag, shape, base + begin, base + end)
        end_max = max(end_max, end)
    if base + end_max > size:
        first = min(
            (i for i in infos.values() if i.end > size), key=lambda i: i.start, default=None
        )
        what = f"; first incomplete tensor: {first.name!r}" if first else ""
        raise MergeError(
            f"{path}: truncated safetensors file: expected at least {base + end_max} bytes, "
            f"found {size}{what}"
        )
    ordered = dict(sorted(infos.items(), key=lambda kv: kv[1].start))
    return ordered, {str(k): str(v) for k, v in meta.items()}


def torch_dtype(tag: str) -> Any:
    import torch

    return getattr(torch, DTYPES[tag][0])


class TensorReader:
    """Reads tensors by positioned reads (``os.preadv``: no shared file offset, so several
    threads may read at once); keeps at most a few file handles open."""

    def __init__(self) -> None:
        self._files: dict[Path, BinaryIO] = {}
        self._lock = threading.Lock()
        self._readers = 0  # reads in progress: handles are closed only when none are

    def _handle(self, path: Path) -> BinaryIO:
        with self._lock:
            fh = self._files.get(path)
            if fh is None:
                if len(self._files) >= 8 and self._readers == 0:
                    self._close_all()
                fh = self._files[path] = open(path, "rb", buffering=0)
            self._readers += 1
            return fh

    def read(self, info: TensorInfo) -> Any:
        import torch

        buf = torch.empty(info.nbytes, dtype=torch.uint8)
        if info.nbytes:
            fh = self._handle(info.path)
            try:
                view = memoryview(buf.numpy())
                got = 0
                while got < info.nbytes:
                    k = _read_at(fh, view[got:], info.start + got)
                    if not k:
                        raise MergeError(
                            f"{info.path}: unexpected end of file in tensor {info.name!r}"
                        )
                    got += k
            finally:
                with self._lock:
                    self._readers -= 1
        return buf.view(torch_dtype(info.dtype)).reshape(info.shape)

    def _close_all(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files.clear()

    def close(self) -> None:
        with self._lock:
            self._close_all()


_seek_lock = threading.Lock()


def _read_at(fh: BinaryIO, view: memoryview, offset: int) -> int:
    if hasattr(os, "preadv"):
        return os.preadv(fh.fileno(), [view], offset)
    with _seek_lock:  # no positioned read on this platform (Windows): one reader at a time
        fh.seek(offset)
        return fh.readinto(view) or 0


@dataclass(frozen=True)
class PlannedTensor:
    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        n = DTYPES[self.dtype][1]
        for d in self.shape:
            n *= d
        return n


class StreamingWriter:
    """Writes one safetensors file whose layout is planned up front.

    The header (names, dtypes, shapes, offsets) is written first; tensors are then appended in
    the planned order, so only the tensor being written is in memory.
    """

    def __init__(self, path: Path, plan: Iterable[PlannedTensor], metadata: dict[str, str]) -> None:
        self.path = path
        self.plan = list(plan)
        header: dict[str, Any] = {}
        if metadata:
            header["__metadata__"] = metadata
        offset = 0
        for t in self.plan:
            header[t.name] = {
                "dtype": t.dtype,
                "shape": list(t.shape),
                "data_offsets": [offset, offset + t.nbytes],
            }
            offset += t.nbytes
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)  # the data section starts 8-byte aligned
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "wb")
        self._fh.write(struct.pack("<Q", len(raw)))
        self._fh.write(raw)
        self._next = 0
        self.bytes_written = 0

    def write(self, name: str, tensor: Any) -> None:
        import torch

        expected = self.plan[self._next]
        if name != expected.name:
            raise RuntimeError(f"writer expected tensor {expected.name!r}, got {name!r}")
        if tuple(tensor.shape) != expected.shape or tensor.dtype != torch_dtype(expected.dtype):
            raise RuntimeError(
                f"tensor {name!r}: got {tuple(tensor.shape)} {tensor.dtype}, planned "
                f"{expected.shape} {expected.dtype}"
            )
        flat = tensor.detach().contiguous().reshape(-1)
        if flat.numel():
            self._fh.write(memoryview(flat.view(torch.uint8).numpy()))
        self.bytes_written += expected.nbytes
        self._next += 1

    def close(self) -> None:
        if self._next != len(self.plan):
            self._fh.close()
            raise RuntimeError(
                f"{self.path}: {len(self.plan) - self._next} planned tensors unwritten"
            )
        # No fsync: atomicity comes from renaming the finished folder; forcing gigabytes to disk
        # here would cost seconds for durability that a page-cache merge does not need.
        self._fh.close()

    def abort(self) -> None:
        self._fh.close()

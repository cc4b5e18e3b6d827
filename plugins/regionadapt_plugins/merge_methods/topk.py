"""mergekit's top-k (``argsort(|delta|, descending=True)[:k]``) without sorting everything.

torch's CPU sort without ``stable=True`` is libstdc++'s ``std::sort`` (introsort) on (value,
index) pairs with ``a > b``. Among equal magnitudes at the cut-off, which ones land in the first
k places depends on that algorithm's exact sequence of partitions, so a threshold or a stable
sort picks different ones. But the *set* in the first k places is fixed as soon as every
partition that straddles position k is done: partitions that lie wholly on one side only
reorder elements among themselves. So we replay introsort step for step (same median-of-three,
same Hoare partition, same depth limit) but only descend into the side that holds k:
expected O(n) instead of O(n log n), with exactly the same selection.

Each Hoare partition is replayed vectorised: the left scan stops at the elements <= pivot, the
right scan at the elements >= pivot; the m-th stops pair up and swap until they cross. Values
and indices travel packed in one uint64 (value bits high, index low): magnitudes are
non-negative, so their float32 bit patterns order like the numbers, one array is swapped and
each scan is one comparison.

Whether torch's sort really is that algorithm (it is with GCC's libstdc++; not with MSVC or
libc++) is checked once per process against ``torch.argsort``; where it is not, callers fall
back to the full argsort.
"""

from __future__ import annotations

import threading
from typing import Any

_THRESHOLD = 16  # libstdc++'s _S_threshold: segments this small are left to insertion sort
_SHIFT = 32
_checked: bool | None = None
_check_lock = threading.Lock()


def _median_to_first(keys: Any, first: int, a: int, b: int, c: int) -> None:
    """libstdc++ ``__move_median_to_first`` with comp = ``x > y`` on the value bits."""
    va, vb, vc = int(keys[a]) >> _SHIFT, int(keys[b]) >> _SHIFT, int(keys[c]) >> _SHIFT
    if va > vb:
        s = b if vb > vc else (c if va > vc else a)
    elif va > vc:
        s = a
    elif vb > vc:
        s = c
    else:
        s = b
    keys[first], keys[s] = keys[s], keys[first]


def _first_crossing(left: Any, right: Any, m: int) -> int:
    """The first i < m with left[i] >= right[i] (monotone: left rises, right falls), else m."""
    lo, hi = 0, m
    while lo < hi:
        mid = (lo + hi) // 2
        if left[mid] >= right[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _partition(keys: Any, lo: int, hi: int) -> int:
    """Replay ``__unguarded_partition_pivot`` on keys[lo:hi]; returns the cut (absolute)."""
    import numpy as np

    _median_to_first(keys, lo, lo + 1, lo + (hi - lo) // 2, hi - 1)
    pivot_bits = int(keys[lo]) >> _SHIFT
    body = keys[lo + 1 : hi]
    right = np.flatnonzero(body >= np.uint64(pivot_bits << _SHIFT))[::-1]  # value >= pivot
    # left stops (value <= pivot) past the last right stop never pair with one; only the
    # first of them can matter (as the cut when nothing swaps), so scan up to there + 1
    reach = int(right[0]) + 2 if right.size else body.size
    left = np.flatnonzero(body[:reach] < np.uint64((pivot_bits + 1) << _SHIFT))
    if left.size == 0:
        left = np.flatnonzero(body < np.uint64((pivot_bits + 1) << _SHIFT))[:1]
    m = min(left.size, right.size)
    swaps = _first_crossing(left, right, m)
    if swaps == 0:
        cut = int(left[0])
    elif swaps >= left.size:
        cut = int(right[swaps - 1])
    else:
        cut = min(int(left[swaps]), int(right[swaps - 1]))
    if swaps:
        li, ri = left[:swaps], right[:swaps]
        moved = body[li]
        body[li] = body[ri]
        body[ri] = moved
    return lo + 1 + cut


_CHUNK = 1 << 20


def _keys(bits: Any) -> Any:
    """(|value| bits << 32) | index, from float32 bit patterns (the sign bit is dropped:
    abs() clears just that bit). Written through a uint32 view in chunks, so the only large
    allocation is the key array itself (little-endian: the high word is the second)."""
    import numpy as np

    n = bits.size
    keys = np.empty(n, dtype=np.uint64)
    words = keys.view(np.uint32).reshape(n, 2)
    if np.little_endian:
        high, low = words[:, 1], words[:, 0]
    else:
        high, low = words[:, 0], words[:, 1]
    np.bitwise_and(bits, np.uint32(0x7FFFFFFF), out=high)
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        low[start:stop] = np.arange(start, stop, dtype=np.uint32)
    return keys


def top_k_mask_numpy(w: Any, k: int) -> Any:
    """Boolean mask of ``argsort(|w|, descending=True)[:k]`` as libstdc++'s introsort orders it.

    ``w``: 1-D float32 numpy array without NaN, fewer than 2**32 elements (the sign of each
    entry is ignored: it is the magnitude that is ranked).
    Returns None when the replay would reach introsort's heapsort fallback (depth limit), which
    is not replayed; the caller then sorts.
    """
    import numpy as np

    n = w.size
    keys = _keys(w.view(np.uint32))
    lo, hi = 0, n
    depth = 2 * (n.bit_length() - 1)  # std::__lg(n) * 2
    while hi - lo > _THRESHOLD and lo != k and hi != k:
        if depth == 0:
            return None
        depth -= 1
        cut = _partition(keys, lo, hi)
        if cut > k:
            hi = cut
        elif cut < k:
            lo = cut
        else:
            lo = hi = k
    low_bits = np.uint64(0xFFFFFFFF)
    mask = np.zeros(n, dtype=bool)
    mask[(keys[:lo] & low_bits).astype(np.int64)] = True
    if k > lo:
        # the final insertion sort orders this small segment stably, by value descending
        seg = keys[lo:hi]
        order = np.argsort(-((seg >> np.uint64(_SHIFT)).astype(np.int64)), kind="stable")
        mask[(seg[order[: k - lo]] & low_bits).astype(np.int64)] = True
    return mask


def _argsort_mask(w: Any, k: int) -> Any:
    import torch

    keep = torch.zeros(w.numel(), dtype=torch.bool)
    keep[torch.argsort(w, descending=True)[:k]] = True
    return keep


def replay_matches_torch() -> bool:
    """Once per process: does the replay select what ``torch.argsort`` selects here?"""
    global _checked
    with _check_lock:
        if _checked is None:
            import numpy as np
            import torch

            rng = np.random.default_rng(0)
            ok = True
            for n, scale in ((5_000, 3.0), (20_011, 40.0), (3_001, 1e6)):
                w = np.round(rng.standard_normal(n) * scale).astype(np.float32)
                for k in (1, n // 3, n // 2, n - 1):
                    mine = top_k_mask_numpy(w, k)
                    theirs = _argsort_mask(torch.from_numpy(w).abs(), k).numpy()
                    ok = ok and mine is not None and bool(np.array_equal(mine, theirs))
            _checked = ok
        return _checked


def top_k_like_mergekit(delta: Any, k: int) -> Any:
    """Bool tensor: the first k of ``torch.argsort(|delta|, descending=True)`` (mergekit's
    top-k of a 1-D delta, float32 or wider; mergekit sorts float32 magnitudes on the CPU).

    Uses the replay where it is exact, else (float64, NaN, huge tensors, another sort
    implementation, the heapsort fallback) the sort itself."""
    import torch

    n = delta.numel()
    if delta.dtype == torch.float32 and 0 < k < n < 2**32 and replay_matches_torch():
        if not bool(torch.isnan(delta).any()):
            mask = top_k_mask_numpy(delta.contiguous().numpy(), k)
            if mask is not None:
                return torch.from_numpy(mask)
    w = delta.abs()
    return _argsort_mask(w if w.dtype == torch.float64 else w.float(), k)

"""Drop exact (same bytes) and perceptual (near-identical picture) duplicate images.

The first occurrence in dataset order is kept; every later copy names the sample it repeats.
Near duplicates are found without comparing all pairs: a 64-bit hash within Hamming distance d
of another agrees with it exactly on at least one of d+1 bands (pigeonhole), so only samples
sharing a band are compared.
"""

from __future__ import annotations

import hashlib
import itertools
from typing import Any, ClassVar, Literal

from pydantic import Field

from regionadapt.data.images import image_bytes, open_image
from regionadapt.data.stateful import StatefulFilter
from regionadapt.schema import Strict


def _bands(bits: int, n_bands: int) -> list[tuple[int, int]]:
    edges = [round(i * 64 / n_bands) for i in range(n_bands + 1)]
    return [
        (i, (bits >> lo) & ((1 << (hi - lo)) - 1))
        for i, (lo, hi) in enumerate(itertools.pairwise(edges))
    ]


class DuplicatesFilter(StatefulFilter):
    name: ClassVar[str] = "duplicates"
    description: ClassVar[str] = (
        "Drops images whose bytes repeat an earlier sample (SHA-256) or whose perceptual hash "
        "(imagehash phash/dhash/ahash/whash, 64 bits) is within max_distance bits of an "
        "earlier one. Unreadable images are left to the quality filter."
    )
    requires: ClassVar[dict[str, str]] = {"imagehash": "ImageHash"}

    class Params(Strict):
        exact: bool = True
        perceptual: bool = True
        hash: Literal["phash", "dhash", "ahash", "whash"] = "phash"
        max_distance: int = Field(default=4, ge=0, le=16)

    def key_batch(self, samples: list[dict[str, Any]]) -> list[Any]:
        import imagehash

        fn = getattr(imagehash, {"phash": "phash", "dhash": "dhash", "ahash": "average_hash",
                                 "whash": "whash"}[self.params.hash])  # fmt: skip
        keys: list[Any] = []
        for s in samples:
            try:
                data = image_bytes(s)
            except Exception:
                keys.append(None)
                continue
            key: dict[str, Any] = {"sha": hashlib.sha256(data).hexdigest()}
            if self.params.perceptual:
                try:
                    key["ph"] = str(fn(open_image(data)))
                except Exception:
                    pass  # undecodable: exact check only
            keys.append(key)
        return keys

    def decide_all(self, keys: list[Any], ids: list[str]) -> list[Any]:
        d = self.params.max_distance
        seen_sha: dict[str, str] = {}
        index: dict[tuple[int, int], list[tuple[int, str]]] = {}
        out: list[Any] = []
        for key, sid in zip(keys, ids, strict=True):
            if not key:
                out.append(True)
                continue
            if self.params.exact and key["sha"] in seen_sha:
                out.append((False, f"duplicate-exact: same bytes as {seen_sha[key['sha']]}"))
                continue
            seen_sha.setdefault(key["sha"], sid)
            if not self.params.perceptual or "ph" not in key:
                out.append(True)
                continue
            bits = int(key["ph"], 16)
            bands = _bands(bits, d + 1)
            match = None
            for band in bands:
                for other_bits, other_id in index.get(band, ()):
                    dist = (bits ^ other_bits).bit_count()
                    if dist <= d:
                        match = (other_id, dist)
                        break
                if match:
                    break
            if match:
                other, dist = match
                out.append(
                    (
                        False,
                        f"duplicate-perceptual: {self.params.hash} distance {dist} from {other}",
                    )
                )
                continue
            for band in bands:
                index.setdefault(band, []).append((bits, sid))
            out.append(True)
        return out

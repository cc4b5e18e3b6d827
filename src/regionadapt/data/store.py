"""Saving datasets so that they always load back (an empty one included)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_dataset(ds: Any, path: Path) -> None:
    """``save_to_disk``; an empty dataset gets one explicit shard, since datasets writes zero
    shards for it by default and then cannot load the folder back."""
    ds.save_to_disk(str(path), num_shards=1 if len(ds) == 0 else None)

"""How a collector reports an item it could not turn into a sample, so nothing is lost silently.

Collectors yield :class:`Skip` in place of a sample for a corrupt file, an undecodable caption,
a missing field or a refused download; ``run_collect`` counts it by reason and keeps a few
examples, so ``read == written + skipped`` holds for every source.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Skip:
    """One item left out. ``reason`` is a short code ("undecodable-text"); ``where`` names the
    item (file, row, URL) and ``detail`` says what was wrong."""

    reason: str
    where: str = ""
    detail: str = ""

    def __str__(self) -> str:
        tail = f": {self.detail}" if self.detail else ""
        return f"{self.reason} ({self.where}){tail}" if self.where else f"{self.reason}{tail}"

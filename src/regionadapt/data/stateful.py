"""Filters whose decision depends on other samples (duplicates, balance caps, calibrated scores).

They cannot be split across workers as they are, so they come in two halves:
``key_batch`` computes a per-sample key (an image hash, a score: the expensive, parallel part)
and ``decide_all`` sees every key of the surviving samples, in dataset order, in one process
(the cheap, global part). The runner calls the halves itself; ``keep``/``keep_batch`` treat the
given samples as the whole collection, so the filter also works on its own.
"""

from __future__ import annotations

from typing import Any

from regionadapt.components import Filter

Decision = bool | tuple[bool, str]


class StatefulFilter(Filter):
    stateful = True

    def key_batch(self, samples: list[dict[str, Any]]) -> list[Any]:
        """A JSON-serialisable key per sample (None when there is nothing to key on)."""
        raise NotImplementedError

    def decide_all(self, keys: list[Any], ids: list[str]) -> list[Decision]:
        """Decisions for every surviving sample, given their keys and ids in dataset order."""
        raise NotImplementedError

    def keep_batch(self, samples: list[dict[str, Any]]) -> list[Decision]:
        return self.decide_all(self.key_batch(samples), [s["id"] for s in samples])

    def keep(self, sample: dict[str, Any]) -> Decision:
        return self.keep_batch([sample])[0]

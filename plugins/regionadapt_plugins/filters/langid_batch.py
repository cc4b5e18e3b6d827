"""py3langid's scores for a batch of texts at once, with numpy instead of a Python loop per byte.

py3langid walks its byte n-gram automaton one byte at a time in Python (~40 us for a caption)
and then scores with a few numpy calls (~20 us of call overhead). Here the walk takes one step
for every text of the batch together (texts sorted by length, so each step only touches the
texts still running), the feature counts of the whole batch come from one ``np.unique``, and the
naive-Bayes scores from one gather and one ``np.add.reduceat``. Same model, same arithmetic
(float32 over the float16 table, temperature sqrt(bytes), softmax, aliased labels folded):
``tests/test_filters_text.py`` checks the probabilities against py3langid's own ``_decide``.
"""

from __future__ import annotations

import math

import numpy as np


class BatchScorer:
    def __init__(self, ident) -> None:
        self._ident = ident
        nxt = np.frombuffer(ident.tk_nextmove, dtype=np.dtype(ident.tk_nextmove.typecode))
        rowbase = np.asarray(ident._rowbase, dtype=np.int64)
        out = np.asarray(ident.tk_output, dtype=np.int32)
        # The walk keeps, per text, the offset of its state's row (rowbase[state]) and takes one
        # gather a byte: row' = next_row[row + byte]. The feature a step emits is the output of
        # the state it reaches, out[nxt[row + byte]]: gathered once per batch, after the walk,
        # from the positions the walk recorded. int32: ~10M transitions (40 MB each table).
        self._next_row = rowbase[nxt].astype(np.int32)
        self._out_next = out[nxt].astype(np.int32)
        self._start_row = int(rowbase[0])
        self._features = len(out)
        # nb_ptc widened to float32 once, at set-up (py3langid widens per caption)
        self._table = np.ascontiguousarray(ident.nb_ptc, dtype=np.float32)  # rows gathered
        self._table_of = ident.nb_ptc

    def decide(self, texts: list[str]) -> np.ndarray:
        """(len(texts), classes) probabilities, as ``ident._decide`` gives one text's."""
        ident = self._ident
        encoded = [ident._encode(t) for t in texts]
        n_classes = len(ident.nb_classes)
        scores = np.zeros((len(texts), n_classes), dtype=np.float32)
        if not texts:
            return scores
        lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
        order = np.argsort(-lengths, kind="stable")  # longest first: active rows are a prefix
        sorted_len = lengths[order]
        width = int(sorted_len[0])
        # bytes one row per step (time-major): the step's column is contiguous
        buf = np.zeros((max(width, 1), len(texts)), dtype=np.int32)
        for row, i in enumerate(order.tolist()):
            b = encoded[i]
            if b:
                buf[: len(b), row] = np.frombuffer(b, dtype=np.uint8)
        pos = np.zeros((max(width, 1), len(texts)), dtype=np.int32)  # row + byte, per step
        state_row = np.full(len(texts), self._start_row, dtype=np.int32)  # all start in state 0
        # rows still running at step t: those longer than t (a prefix, lengths descending)
        active = len(texts) - np.searchsorted(sorted_len[::-1], np.arange(width), side="right")
        next_row = self._next_row
        for t, k in enumerate(active.tolist()):
            at = np.add(state_row[:k], buf[t, :k], out=pos[t, :k])
            next_row.take(at, out=state_row[:k])
        # a text's steps past its end emit nothing
        ran = np.arange(max(width, 1))[:, None] < lengths[order][None, :]
        feats = np.where(ran, self._out_next[pos], -1).T
        rows, _ = np.nonzero(feats >= 0)
        found = feats[feats >= 0]
        has = np.zeros(len(texts), dtype=bool)
        if len(found):
            key, counts = np.unique(
                rows * self._features + found.astype(np.int64), return_counts=True
            )
            krow, kfeat = key // self._features, key % self._features
            if self._table_of is not ident.nb_ptc:  # set_languages replaces the table
                self._table = np.ascontiguousarray(ident.nb_ptc, dtype=np.float32)  # rows gathered
                self._table_of = ident.nb_ptc
            contrib = np.take(self._table, kfeat, axis=0)  # (faster than self._table[kfeat])
            contrib *= np.log1p(counts.astype(np.float32))[:, None]
            starts = np.flatnonzero(np.r_[True, krow[1:] != krow[:-1]])
            summed = np.add.reduceat(contrib, starts, axis=0)
            scores[krow[starts]] = summed + ident.nb_pc
            has[krow[starts]] = True
        # back to the callers' order
        unsorted = np.empty_like(scores)
        unsorted[order] = scores
        scores = unsorted
        has_u = np.empty_like(has)
        has_u[order] = has
        if ident._norm_probs:
            temp = np.array([1.0 / math.sqrt(n or 1) for n in lengths.tolist()], dtype=np.float32)
            scores *= temp[:, None]
            scores -= scores.max(axis=1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=1, keepdims=True)
            for i, j in ident._alias_pairs:
                scores[:, i] += scores[:, j]
                scores[:, j] = 0.0
        else:
            from py3langid.langid import RAW_FLOOR

            scores[~has_u] = RAW_FLOOR
            for i, j in ident._alias_pairs:
                scores[:, i] = np.maximum(scores[:, i], scores[:, j])
                scores[:, j] = RAW_FLOOR
        return scores

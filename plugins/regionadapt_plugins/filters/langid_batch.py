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
        # int32: the automaton has ~10M transitions (40 MB so, 80 MB as int64)
        self._next = np.frombuffer(ident.tk_nextmove, dtype=np.dtype(ident.tk_nextmove.typecode))
        self._next = self._next.astype(np.int32)
        self._rowbase = np.asarray(ident._rowbase, dtype=np.int64)
        self._out = np.asarray(ident.tk_output, dtype=np.int32)
        self._features = len(self._out)
        # nb_ptc widened to float32 once, at set-up (py3langid widens per caption)
        self._table = ident.nb_ptc.astype(np.float32)
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
        buf = np.zeros((len(texts), max(width, 1)), dtype=np.int64)
        for row, i in enumerate(order.tolist()):
            b = encoded[i]
            if b:
                buf[row, : len(b)] = np.frombuffer(b, dtype=np.uint8)
        feats = np.full((len(texts), max(width, 1)), -1, dtype=np.int32)
        states = np.zeros(len(texts), dtype=np.int64)
        # rows still running at step t: those longer than t (a prefix, lengths descending)
        active = len(texts) - np.searchsorted(sorted_len[::-1], np.arange(width), side="right")
        nxt, rowbase, out = self._next, self._rowbase, self._out
        for t in range(width):
            k = int(active[t])
            s = nxt[rowbase[states[:k]] + buf[:k, t]]
            states[:k] = s
            feats[:k, t] = out[s]
        rows, _ = np.nonzero(feats >= 0)
        found = feats[feats >= 0]
        has = np.zeros(len(texts), dtype=bool)
        if len(found):
            key, counts = np.unique(
                rows * self._features + found.astype(np.int64), return_counts=True
            )
            krow, kfeat = key // self._features, key % self._features
            if self._table_of is not ident.nb_ptc:  # set_languages replaces the table
                self._table = ident.nb_ptc.astype(np.float32)
                self._table_of = ident.nb_ptc
            contrib = self._table[kfeat]
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

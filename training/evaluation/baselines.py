"""Baselines for the LSTM: unigram token frequencies and an interpolated Kneser-Ney n-gram.

numpy only. Both predict every token of a melody from the tokens before it,
with the same convention as the model: a melody is preceded by START_TOKEN (an
n-gram sees ``n - 1`` of them, i.e. silence before the melody). An n-gram is
stored as one int64 key (tokens in base ``vocab``), counted with ``np.unique``
and looked up with ``np.searchsorted``, so ~1M tokens and order 6 fit easily.

Interpolated Kneser-Ney (Chen & Goodman 1998, one discount per order):

    P_k(w | h) = max(c_k(h w) - D_k, 0) / c_k(h) + D_k * N1+(h .) / c_k(h) * P_{k-1}(w | h')
    P_0(w)     = 1 / vocab

``c_k`` is the raw count at the highest order and the continuation count
(number of distinct tokens seen before ``h w``) below it; ``h'`` drops the
oldest token of ``h``; an unseen context ``h`` (c_k(h) = 0) falls back to
P_{k-1} entirely. ``D_k = n1 / (n1 + 2 n2)`` from the order's count-of-counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from device.core import encoding


def padded(melody: np.ndarray, order: int) -> np.ndarray:
    """``order - 1`` START_TOKENs, then the melody, as int64."""
    return np.concatenate([np.full(order - 1, encoding.START_TOKEN), np.asarray(melody)]).astype(np.int64)


def ngrams(melodies: list[np.ndarray], order: int, vocab: int) -> np.ndarray:
    """Keys of every (context, target) n-gram of length ``order`` over all melody targets, int64 [targets]."""
    keys = []
    for melody in melodies:
        seq = padded(melody, order)
        windows = np.lib.stride_tricks.sliding_window_view(seq, order) if len(melody) else np.zeros((0, order))
        keys.append(encode(windows.astype(np.int64), vocab))
    return np.concatenate(keys) if keys else np.zeros(0, np.int64)


def encode(grams: np.ndarray, vocab: int) -> np.ndarray:
    """Rows of tokens [n, k] -> int64 keys; the last column (the target) is the lowest digit."""
    keys = np.zeros(len(grams), np.int64)
    for column in range(grams.shape[1]):
        keys = keys * vocab + grams[:, column]
    return keys


def _lookup(table_keys: np.ndarray, table_values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Values for ``keys`` in a sorted table; 0 where a key is absent."""
    if len(table_keys) == 0:
        return np.zeros(len(keys), table_values.dtype)
    index = np.minimum(np.searchsorted(table_keys, keys), len(table_keys) - 1)
    return np.where(table_keys[index] == keys, table_values[index], 0)


@dataclass(frozen=True)
class Unigram:
    """Token frequencies with add-``alpha`` smoothing: P(w) = (count(w) + alpha) / (N + alpha * vocab)."""

    counts: np.ndarray
    alpha: float = 1.0

    @classmethod
    def fit(cls, melodies: list[np.ndarray], vocab: int = encoding.VOCAB_SIZE, alpha: float = 1.0) -> Unigram:
        tokens = np.concatenate([np.asarray(m, np.int64) for m in melodies])
        return cls(np.bincount(tokens, minlength=vocab).astype(np.float64), alpha)

    def probabilities(self) -> np.ndarray:
        return (self.counts + self.alpha) / (self.counts.sum() + self.alpha * len(self.counts))

    def token_probs(self, melodies: list[np.ndarray]) -> np.ndarray:
        """P of every token of every melody, concatenated (float64)."""
        return self.probabilities()[np.concatenate([np.asarray(m, np.int64) for m in melodies])]


@dataclass(frozen=True)
class _Level:
    """One order k: sorted k-gram keys with counts; sorted context keys with totals and N1+(h .)."""

    gram_keys: np.ndarray
    gram_counts: np.ndarray
    context_keys: np.ndarray
    context_totals: np.ndarray
    context_types: np.ndarray
    discount: float


def _level(gram_keys: np.ndarray, gram_counts: np.ndarray, vocab: int) -> _Level:
    contexts = gram_keys // vocab
    context_keys, first = np.unique(contexts, return_index=True)
    totals = np.add.reduceat(gram_counts, first) if len(first) else np.zeros(0)
    types = np.diff(np.append(first, len(contexts)))
    n1, n2 = np.sum(gram_counts == 1), np.sum(gram_counts == 2)
    discount = n1 / (n1 + 2 * n2) if n1 + n2 > 0 else 0.5
    return _Level(gram_keys, gram_counts.astype(np.float64), context_keys, totals.astype(np.float64),
                  types.astype(np.float64), float(min(max(discount, 0.05), 0.95)))


class KneserNey:
    """Interpolated Kneser-Ney n-gram of ``order`` (1..), fitted on melodies of tokens 0..vocab-1."""

    def __init__(self, levels: list[_Level], vocab: int):
        self.levels = levels  # levels[k - 1] is order k
        self.vocab = vocab

    @property
    def order(self) -> int:
        return len(self.levels)

    @classmethod
    def fit(cls, melodies: list[np.ndarray], order: int, vocab: int = encoding.VOCAB_SIZE) -> KneserNey:
        if order < 1:
            raise ValueError(f"n-gram order {order} must be >= 1")
        top_keys, top_counts = np.unique(ngrams(melodies, order, vocab), return_counts=True)
        levels = [_level(top_keys, top_counts, vocab)]
        keys = top_keys
        for k in range(order - 1, 0, -1):
            # continuation count of a k-gram: distinct tokens seen before it = distinct (k+1)-grams ending in it
            lower, counts = np.unique(keys % vocab**k, return_counts=True)
            levels.insert(0, _level(lower, counts, vocab))
            keys = lower
        return cls(levels, vocab)

    def prob(self, grams: np.ndarray) -> np.ndarray:
        """P(target | context) for rows [n, order] of tokens (context then target), float64 [n]."""
        grams = np.asarray(grams, np.int64)
        p = np.full(len(grams), 1.0 / self.vocab)
        for k, level in enumerate(self.levels, start=1):
            keys = encode(grams[:, -k:], self.vocab)
            total = _lookup(level.context_keys, level.context_totals, keys // self.vocab)
            count = _lookup(level.gram_keys, level.gram_counts, keys)
            types = _lookup(level.context_keys, level.context_types, keys // self.vocab)
            seen = total > 0
            safe = np.where(seen, total, 1.0)
            mixed = (np.maximum(count - level.discount, 0.0) + level.discount * types * p) / safe
            p = np.where(seen, mixed, p)
        return p

    def distribution(self, contexts: np.ndarray) -> np.ndarray:
        """P(w | context) for every token w: contexts [n, order - 1] -> float64 [n, vocab]."""
        contexts = np.asarray(contexts, np.int64).reshape(len(contexts), self.order - 1)
        tokens = np.arange(self.vocab)
        grams = np.concatenate([np.repeat(contexts, self.vocab, axis=0), np.tile(tokens, len(contexts))[:, None]], 1)
        return self.prob(grams).reshape(len(contexts), self.vocab)

    def rows(self, melodies: list[np.ndarray]) -> np.ndarray:
        """Every (context, target) row of every melody (START-padded), int64 [tokens, order]."""
        rows = [np.lib.stride_tricks.sliding_window_view(padded(m, self.order), self.order) for m in melodies
                if len(m)]
        return np.concatenate(rows) if rows else np.zeros((0, self.order), np.int64)

    def token_probs(self, melodies: list[np.ndarray]) -> np.ndarray:
        """P of every token of every melody given the ``order - 1`` before it (START-padded), concatenated."""
        return self.prob(self.rows(melodies))

    def predictions(self, melodies: list[np.ndarray], chunk: int = 4096) -> np.ndarray:
        """The most probable token at every step of every melody (int64 [tokens])."""
        rows = self.rows(melodies)
        return np.concatenate([np.argmax(self.distribution(rows[i:i + chunk, :-1]), axis=1)
                               for i in range(0, len(rows), chunk)] or [np.zeros(0, np.int64)])


def nll(probabilities: np.ndarray) -> float:
    """Mean negative log-likelihood in nats per token."""
    return float(-np.mean(np.log(probabilities)))


def best_kneser_ney(train: list[np.ndarray], validation: list[np.ndarray], max_order: int = 6,
                    vocab: int = encoding.VOCAB_SIZE) -> tuple[KneserNey, dict[int, float]]:
    """Fit up to ``max_order`` and keep the order with the lowest validation NLL; also returns NLL per order."""
    full = KneserNey.fit(train, max_order, vocab)
    scores = {}
    for order in range(1, max_order + 1):
        scores[order] = nll(KneserNey.fit(train, order, vocab).token_probs(validation)) if order < max_order \
            else nll(full.token_probs(validation))
    best = min(scores, key=scores.get)
    return (full if best == max_order else KneserNey.fit(train, best, vocab)), scores


def unigram_loss(train: list[np.ndarray], targets, weights) -> float:
    """The unigram's loss (nats per token) on training windows' ``targets`` weighted by ``weights`` (0 on padding),
    as Keras weighs the validation loss: what ``train`` compares its best validation loss with."""
    log_p = np.log(Unigram.fit(train).probabilities())[np.asarray(targets)]
    return float(-(log_p * weights).sum() / np.sum(weights))

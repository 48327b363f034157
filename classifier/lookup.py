"""Integer keys to ids, a whole array of lookups at a time.

The scoring path reads n-grams as integers (word bigrams as pairs of token ids, character
n-grams as base-128 numbers) and needs their vocabulary ids by the thousand per batch, and
by the dozen for a single comment. :class:`IntegerLookup` serves both sizes well.
"""

from __future__ import annotations

import numpy as np


class IntegerLookup:
    """A map from non-negative int64 keys to ids that answers a whole array of lookups at
    once (-1 where absent). A batch goes to a hash table (open addressing with linear
    probing, two to four slots per key): about one random read per key, where a binary
    search makes twenty that depend on each other. But each round of probing is a few
    numpy calls: a few keys (one comment's) go to binary search, in one call, and so do the
    keys still unresolved after three rounds. Keys below ``direct_below`` are read from a
    plain array instead: one read each, no search."""

    _FEW = 1024  # up to this many keys, binary search (measured faster up to about 1,500)
    _ROUNDS = 3  # probes in the table before the keys left over go to binary search

    _MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: 2**64 / golden ratio

    def __init__(self, keys: np.ndarray, ids: np.ndarray, *, direct_below: int = 0) -> None:
        self._direct = np.full(direct_below, -1, dtype=np.int32)
        small = keys < direct_below
        self._direct[keys[small]] = ids[small]
        bits = max(4, int(len(keys) * 2).bit_length())
        self._shift = np.uint64(64 - bits)
        self._mask = (1 << bits) - 1
        self._keys = np.full(1 << bits, -1, dtype=np.int64)
        self._ids = np.full(1 << bits, -1, dtype=np.int32)
        self._size = len(keys)
        order = np.argsort(keys)
        self._sorted_keys, self._sorted_ids = keys[order], ids[order]
        # Insert all keys in rounds: each still waiting takes its slot if free (the first
        # of several contenders wins), else moves on to the next slot.
        slots = self._slots(keys)
        waiting = np.arange(len(keys))
        while len(waiting):
            wanted = slots[waiting]
            free = self._keys[wanted] == -1
            taken, first = np.unique(wanted[free], return_index=True)
            winners = waiting[free][first]
            self._keys[taken] = keys[winners]
            self._ids[taken] = ids[winners]
            placed = np.zeros(len(keys), dtype=bool)
            placed[winners] = True
            waiting = waiting[~placed[waiting]]
            slots[waiting] = (slots[waiting] + 1) & self._mask

    def __len__(self) -> int:
        return self._size

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        hashed = (keys.astype(np.uint64) * self._MULTIPLIER) >> self._shift
        return hashed.astype(np.int64)

    def find(self, keys: np.ndarray) -> np.ndarray:
        """The id of each key, -1 for keys not in the map."""
        if len(self._direct) and len(keys) and keys.max() < len(self._direct):
            return self._direct[keys].astype(np.int64)
        if len(keys) <= self._FEW:
            return self._search(keys)
        found = np.full(len(keys), -1, dtype=np.int64)
        slots = self._slots(keys)
        waiting = np.arange(len(keys))
        for _ in range(self._ROUNDS):
            stored = self._keys[slots]
            hit = stored == keys[waiting]
            found[waiting[hit]] = self._ids[slots[hit]]
            # A miss goes on to the next slot until it meets an empty one.
            going_on = ~hit & (stored != -1)
            waiting = waiting[going_on]
            if not len(waiting):
                return found
            slots = (slots[going_on] + 1) & self._mask
        found[waiting] = self._search(keys[waiting])  # the few in long runs of full slots
        return found

    def _search(self, keys: np.ndarray) -> np.ndarray:
        if not self._size:
            return np.full(len(keys), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self._sorted_keys, keys), self._size - 1)
        return np.where(self._sorted_keys[at] == keys, self._sorted_ids[at], -1)

"""Vocabulary ids of n-grams, a whole array of lookups at a time.

The scoring path needs the vocabulary ids of n-grams by the thousand per batch, and by the
dozen for a single comment. :class:`IntegerLookup` finds word n-grams, read as integers
(pairs of token ids), and serves both sizes well; :class:`CharTrie` finds character n-grams
by growing every window of a batch one character at a time.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

try:  # built at set-up (make); without it, the same probing in numpy's rounds
    from classifier._speedups import find_keys
except ImportError:  # pragma: no cover - depends on the build
    find_keys = None


class IntegerLookup:
    """A map from non-negative int64 keys to ids that answers a whole array of lookups at
    once (-1 where absent), from a hash table (open addressing with linear probing, two to
    four slots per key): about one random read per key, where a binary search makes twenty
    that depend on each other. The probing is one compiled loop
    (``_speedups.find_keys``); where that is not built, each round of probing is a few
    numpy calls, so a few keys (one comment's) go to binary search, in one call, and so do
    the keys still unresolved after three rounds."""

    _FEW = 1024  # up to this many keys, binary search (measured faster up to about 1,500)
    _ROUNDS = 3  # probes in the table before the keys left over go to binary search

    _MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: 2**64 / golden ratio

    def __init__(self, keys: np.ndarray, ids: np.ndarray) -> None:
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
        if find_keys is not None and self._size:
            found = np.empty(len(keys), dtype=np.int64)
            find_keys(np.ascontiguousarray(keys, np.int64), self._keys, self._ids,
                      int(self._MULTIPLIER), int(self._shift), found)
            return found
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


class CharTrie:
    """The ASCII character n-grams of a vocabulary as a trie whose inner nodes are rows of
    a dense table, one column per character: taking every window of a batch one character
    further is one array read, where a hash table takes several rounds and a binary search
    a score of dependent reads. A window that no n-gram starts with drops out at once.

    An n-gram holding two spaces in a row is left out: padded words (" word ") never hold
    one, and every window that crosses from one padded word to the next does, so that such
    windows find nothing."""

    LONGEST = 9  # a level's keys are base-128 numbers in 64-bit integers

    def __init__(self, grams: dict[str, int]) -> None:
        # Built on arrays: a string per prefix, made and dropped, would scatter the word
        # tables filled next across memory, and every later lookup in them would pay.
        kept = [gram for gram in grams if gram and gram.isascii() and "  " not in gram]
        lengths = np.fromiter(map(len, kept), dtype=np.int64, count=len(kept))
        if lengths.max(initial=0) > self.LONGEST:
            raise ValueError(f"character n-grams longer than {self.LONGEST} cannot be indexed")
        gram_ids = np.fromiter(map(grams.__getitem__, kept), dtype=np.int64, count=len(kept))
        codes = np.frombuffer("".join(kept).encode("ascii"), dtype=np.uint8).astype(np.int64)
        starts = np.cumsum(lengths) - lengths
        alphabet = np.unique(codes)
        # Column 0 stands for every character no n-gram holds: no node has a child there.
        self.columns = np.zeros(128, dtype=np.int32)
        self.columns[alphabet] = np.arange(1, len(alphabet) + 1)
        self.width = len(alphabet) + 1
        # Level k: the first k characters of every n-gram of k or more, read in base 128
        # (per level, so a NUL cannot make two lengths collide). The inner nodes of a level
        # are its prefixes of longer n-grams; its leaves, the n-grams no other extends.
        levels = []  # per k from 1: inner keys; keys and ids of the n-grams of length k
        alive, keys = np.arange(len(kept)), np.zeros(len(kept), dtype=np.int64)
        for k in range(1, int(lengths.max(initial=0)) + 1):
            alive = alive[lengths[alive] >= k]
            keys[alive] = keys[alive] * 128 + codes[starts[alive] + k - 1]
            ending = lengths[alive] == k
            levels.append((np.unique(keys[alive[~ending]]),
                           keys[alive[ending]], gram_ids[alive[ending]]))
        # Inner nodes first (the root is 0, then level by level), so that a node has a row
        # of the table when it is below n_inner; the leaves after them.
        inner_first = np.cumsum([1] + [len(inner) for inner, _, _ in levels])
        self.n_inner = int(inner_first[-1])
        leaves = [np.setdiff1d(gram_keys, inner) for inner, gram_keys, _ in levels]
        leaf_first = self.n_inner + np.cumsum([0] + [len(leaf) for leaf in leaves])
        self.children = np.full(self.n_inner * self.width, -1, dtype=np.int32)
        self.ids = np.full(int(leaf_first[-1]), -1, dtype=np.int32)
        for k, (inner, gram_keys, ids) in enumerate(levels, start=1):
            # Each node is its parent's child by its last character.
            for node_keys, first in ((inner, inner_first[k - 1]),
                                     (leaves[k - 1], leaf_first[k - 1])):
                if k == 1:
                    parents = np.zeros(len(node_keys), dtype=np.int64)  # the root
                else:
                    parents = inner_first[k - 2] + np.searchsorted(levels[k - 2][0],
                                                                   node_keys // 128)
                self.children[parents * self.width + self.columns[node_keys % 128]] = \
                    first + np.arange(len(node_keys))
            is_inner = np.isin(gram_keys, inner)
            at = np.where(is_inner, inner_first[k - 1] + np.searchsorted(inner, gram_keys),
                          leaf_first[k - 1] + np.searchsorted(leaves[k - 1], gram_keys))
            self.ids[at] = ids

    def children_of(self, nodes: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """Each inner node's child by the next character's column; -1 where it has none.
        The root is node 0: its children are the one-character windows' nodes."""
        return self.children[nodes * self.width + columns]

    def columns_of(self, text: str) -> np.ndarray:
        """The columns of an ASCII text's characters."""
        return self.columns[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]

    def windows(self, columns: np.ndarray, longest: int
                ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """For n from 1 to ``longest``, the windows of n characters of a text (given as
        ``columns_of`` it) that are nodes: (n, their starts, their nodes). Every window
        grows one character per step, as one array read; a window that no n-gram starts
        with drops out at once."""
        starts = np.arange(len(columns), dtype=np.int32)
        nodes = self.children_of(np.zeros(len(columns), np.int32), columns)
        for n in range(1, longest + 1):
            if n > 1:
                going_on = (nodes < self.n_inner) & (starts < len(columns) - n + 1)
                starts = starts[going_on]
                nodes = self.children_of(nodes[going_on], columns[starts + n - 1])
            found = nodes >= 0
            starts, nodes = starts[found], nodes[found]
            if not len(starts):
                return
            yield n, starts, nodes

    def along_paths(self, values: np.ndarray, shortest: int) -> np.ndarray:
        """For every node, the sum of ``values[id]`` over the n-grams of ``shortest`` or
        more characters on its path from the root, itself included (the root's is 0).
        ``values`` has a row per n-gram id; the result, a row per node."""
        sums = np.zeros((len(self.ids),) + values.shape[1:], dtype=values.dtype)
        table = self.children.reshape(self.n_inner, self.width)
        parents, depth = np.zeros(1, np.int64), 0
        while len(parents):  # level by level from the root: a node after its parent
            depth += 1
            below = table[parents]
            rows, columns = np.nonzero(below >= 0)
            nodes = below[rows, columns]
            sums[nodes] = sums[parents[rows]]
            if depth >= shortest:
                ids = self.ids[nodes]
                grams = ids >= 0
                sums[nodes[grams]] += values[ids[grams]]
            parents = nodes[nodes < self.n_inner]
        return sums

"""Vocabulary ids of n-grams, a whole array of lookups at a time.

Features are looked up by the thousand per batch: :class:`IntegerLookup` finds word
n-grams, read as integers (pairs of token ids); :class:`CharTrie` finds character n-grams
by growing every window of a batch one character at a time.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np


class IntegerLookup:
    """A map from int64 keys to ids that answers a whole array of lookups at once (-1 where
    absent), by binary search in the sorted keys."""

    def __init__(self, keys: np.ndarray, ids: np.ndarray) -> None:
        order = np.argsort(keys, kind="stable")
        self._keys, self._ids = keys[order], ids[order]

    def __len__(self) -> int:
        return len(self._keys)

    def find(self, keys: np.ndarray) -> np.ndarray:
        """The id of each key, -1 for keys not in the map."""
        if not len(self._keys):
            return np.full(len(keys), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        return np.where(self._keys[at] == keys, self._ids[at], -1)


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

"""IntegerLookup and CharTrie: every key found, nothing else."""

import random

import numpy as np
import pytest

from classifier.lookup import CharTrie, IntegerLookup


def test_the_integer_lookup_finds_every_key_and_nothing_else():
    rng = np.random.default_rng(5)
    keys = rng.choice(2 ** 40, size=5_000, replace=False)
    ids = rng.permutation(len(keys))
    lookup = IntegerLookup(keys, ids)
    absent = np.setdiff1d(rng.integers(0, 2 ** 40, size=5_000), keys)
    np.testing.assert_array_equal(lookup.find(keys), ids)
    assert (lookup.find(absent) == -1).all()
    # A few keys at a time: the same answers.
    np.testing.assert_array_equal(lookup.find(keys[:3]), ids[:3])
    assert (lookup.find(absent[:3]) == -1).all()
    empty = IntegerLookup(np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert len(empty) == 0 and (empty.find(keys[:3]) == -1).all()
    assert (empty.find(keys) == -1).all()


def test_the_char_trie_finds_every_gram_of_every_window_and_nothing_else():
    rng = random.Random(3)
    alphabet = " ab.'é"
    grams = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 5))) for _ in range(400)}
    vocabulary = {gram: i for i, gram in enumerate(sorted(grams))}
    trie = CharTrie(vocabulary)
    kept = {g: i for g, i in vocabulary.items() if g.isascii() and "  " not in g}
    texts = ["".join(rng.choice(" ab.'zZ\x00") for _ in range(30)) for _ in range(200)]
    for text in texts:
        columns = trie.columns[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
        for start in range(len(text)):
            node = 0
            for end in range(start + 1, len(text) + 1):
                if node >= trie.n_inner:  # a leaf: no longer n-gram starts here
                    assert not any(g.startswith(text[start:end]) for g in kept)
                    break
                node = int(trie.children_of(np.array([node]), columns[end - 1:end])[0])
                if node < 0:
                    assert not any(g.startswith(text[start:end]) for g in kept)
                    break
                assert trie.ids[node] == kept.get(text[start:end], -1)
    # A gram with two spaces in a row (which no padded word holds) is left out, and so is
    # one outside ASCII (such words take the per-gram path).
    left_out = set(vocabulary.values()).difference(kept.values())
    assert left_out and left_out.isdisjoint(trie.ids.tolist())
    empty = CharTrie({})
    assert empty.children_of(np.zeros(3, np.int64), empty.columns[[32, 97, 98]]).tolist() == [-1] * 3
    with pytest.raises(ValueError):
        CharTrie({"x" * 10: 0})

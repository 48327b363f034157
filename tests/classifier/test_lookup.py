"""IntegerLookup: every key found, nothing else, whichever way it is looked up."""

import numpy as np
import pytest

from classifier.lookup import IntegerLookup


@pytest.mark.parametrize("few, rounds", [(2048, 3), (0, 3), (0, 0), (0, 50)])
def test_the_integer_lookup_finds_every_key_and_nothing_else(few, rounds, monkeypatch):
    # Whichever way a key is found: binary search, probing, or both.
    monkeypatch.setattr(IntegerLookup, "_FEW", few)
    monkeypatch.setattr(IntegerLookup, "_ROUNDS", rounds)
    rng = np.random.default_rng(5)
    keys = rng.choice(2 ** 40, size=5_000, replace=False)
    ids = rng.permutation(len(keys))
    lookup = IntegerLookup(keys, ids)
    absent = np.setdiff1d(rng.integers(0, 2 ** 40, size=5_000), keys)
    np.testing.assert_array_equal(lookup.find(keys), ids)
    assert (lookup.find(absent) == -1).all()
    # Keys that share their low bits all land near one another; each is still found.
    crowded = np.arange(1_000) << 30
    np.testing.assert_array_equal(IntegerLookup(crowded, np.arange(1_000)).find(crowded),
                                  np.arange(1_000))
    # A few keys at a time take a binary search: the same answers.
    np.testing.assert_array_equal(lookup.find(keys[:3]), ids[:3])
    assert (lookup.find(absent[:3]) == -1).all()
    empty = IntegerLookup(np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert len(empty) == 0 and (empty.find(keys[:3]) == -1).all()
    assert (empty.find(keys) == -1).all()


def test_small_keys_come_from_the_direct_table_and_the_rest_as_before():
    rng = np.random.default_rng(6)
    keys = np.concatenate([rng.choice(1_000, size=300, replace=False),
                           1_000 + rng.choice(2 ** 30, size=3_000, replace=False)])
    ids = rng.permutation(len(keys))
    lookup = IntegerLookup(keys, ids, direct_below=1_000)
    small, large = keys[:300], keys[300:]
    np.testing.assert_array_equal(lookup.find(small), ids[:300])  # all below: direct
    np.testing.assert_array_equal(lookup.find(keys), ids)  # mixed: the general path
    absent_small = np.setdiff1d(np.arange(1_000), small)
    assert (lookup.find(absent_small) == -1).all()
    np.testing.assert_array_equal(lookup.find(large[:5]), ids[300:305])

"""The compiled helpers (``classifier/_speedups.pyx``) on their own: what they refuse, and what
hostile bytes do to them. ``test_features`` checks every scoring result with and without
them."""

import os

import numpy as np
import pytest

from classifier import features
from classifier.features import CommentVectorizer

speedups = pytest.importorskip("classifier._speedups",
                           reason="classifier/_speedups.pyx is not built (make setup builds it)")


def test_the_helpers_are_built_where_the_makefile_runs_the_tests():
    # make test sets REQUIRE_COMPILED: a build step that silently failed would otherwise
    # only show as slower scoring.
    if os.environ.get("REQUIRE_COMPILED"):
        assert features.COMPILED


def distinct(groups, values, n_groups, n_values, marks=None, first_mark=1):
    out_groups, out_values = np.empty(len(groups), np.int64), np.empty(len(groups), np.int64)
    marks = np.zeros(n_values, np.int64) if marks is None else marks
    n = speedups.distinct_by_group(np.asarray(groups, np.int64), np.asarray(values, np.int64),
                                   n_groups, marks, first_mark, out_groups, out_values)
    return out_groups[:n], out_values[:n]


@pytest.mark.parametrize("seed", range(5))
def test_each_groups_distinct_values_come_by_group_in_the_order_they_first_come(seed):
    rng = np.random.default_rng(seed)
    n_groups, n_values = int(rng.integers(1, 50)), int(rng.integers(1, 200))
    groups = rng.integers(0, n_groups, int(rng.integers(0, 2000)))
    values = rng.integers(0, n_values, len(groups))
    got_groups, got_values = distinct(groups, values, n_groups, n_values)
    assert (np.diff(got_groups) >= 0).all()
    for group in range(n_groups):
        want = list(dict.fromkeys(values[groups == group].tolist()))
        assert got_values[got_groups == group].tolist() == want


def test_one_array_of_marks_serves_call_after_call():
    rng = np.random.default_rng(9)
    marks, first_mark = np.zeros(50, np.int64), 1
    for _ in range(20):
        n_groups = int(rng.integers(1, 8))
        groups = np.sort(rng.integers(0, n_groups, 300))
        values = rng.integers(0, 50, 300)
        got_groups, got_values = distinct(groups, values, n_groups, 50, marks, first_mark)
        first_mark += n_groups
        for group in range(n_groups):
            want = list(dict.fromkeys(values[groups == group].tolist()))
            assert got_values[got_groups == group].tolist() == want


@pytest.mark.parametrize("groups, values", [([0, 3], [1, 1]), ([0, -1], [1, 1]),
                                            ([0, 1], [1, 9]), ([0, 1], [-1, 1])])
def test_a_group_or_value_out_of_range_is_refused_not_written(groups, values):
    with pytest.raises(ValueError, match="out of range"):
        distinct(groups, values, 3, 9)


def test_outputs_too_short_and_marks_out_of_range_are_refused():
    three = np.zeros(3, np.int64)
    with pytest.raises(ValueError, match="disagree"):
        speedups.distinct_by_group(three, three, 1, np.zeros(1, np.int64), 1,
                                   np.empty(2, np.int64), np.empty(3, np.int64))
    with pytest.raises(ValueError, match="first_mark"):
        speedups.distinct_by_group(three, three, 1, np.zeros(1, np.int64), -1,
                                   np.empty(3, np.int64), np.empty(3, np.int64))


@pytest.fixture(scope="module")
def products():
    vectorizer = CommentVectorizer(min_df=1).fit(["you are an idiot", "lovely harbour"])
    return features.CharProducts(vectorizer, np.ones((len(vectorizer.char_idf_), 2)))


def sums(products, text: bytes, lengths):
    out = np.zeros((len(lengths), products.nodes.shape[1]))
    trie = products.trie
    speedups.sums_down_the_trie(text, np.asarray(lengths, np.int64), products.byte_columns,
                            trie.children, trie.width, trie.n_inner,
                            products.vectorizer.char_ngram_range[1], products.nodes, out)
    return out


def test_bytes_past_ascii_are_characters_no_n_gram_holds(products):
    # Only ASCII words are sent, but a byte of any value is read through the table.
    assert not sums(products, bytes([32, 200, 255, 128, 32]), [3]).any()
    np.testing.assert_array_equal(sums(products, b" idiot\xff ", [6])[0],
                                  sums(products, b" idiot\x00 ", [6])[0])
    assert sums(products, b" idiot ", [5]).any()


def test_lengths_past_the_text_or_negative_are_refused(products):
    with pytest.raises(ValueError, match="disagree"):
        sums(products, b" idiot ", [5, 1])
    with pytest.raises(ValueError, match="negative"):
        sums(products, b" idiot ", [-2 ** 40, 2 ** 40])


def test_an_output_of_the_wrong_shape_is_refused(products):
    trie = products.trie
    for shape in ((1, products.nodes.shape[1] - 1), (0, products.nodes.shape[1])):
        with pytest.raises(ValueError, match="out needs"):
            speedups.sums_down_the_trie(b" idiot ", np.array([5]), products.byte_columns,
                                        trie.children, trie.width, trie.n_inner, 5,
                                        products.nodes, np.zeros(shape))


def test_a_table_whose_size_is_not_its_shift_is_refused():
    table_keys, table_ids = np.full(16, -1, np.int64), np.full(16, -1, np.int32)
    out = np.empty(1, np.int64)
    for shift in (0, 59, 61, 64):  # 16 slots: 2 ** (64 - 60)
        with pytest.raises(ValueError, match="2 \\*\\* \\(64 - shift\\)"):
            speedups.find_keys(np.ones(1, np.int64), table_keys, table_ids, 7, shift, out)
    speedups.find_keys(np.array([1, -5], np.int64), table_keys, table_ids, 7, 60,
                       out := np.empty(2, np.int64))
    assert out.tolist() == [-1, -1]
    with pytest.raises(ValueError, match="disagree"):
        speedups.find_keys(np.ones(3, np.int64), table_keys, table_ids, 7, 60, out)


def test_a_column_outside_the_childrens_rows_is_refused(products):
    columns = products.byte_columns.copy()
    columns[200] = products.trie.width
    with pytest.raises(ValueError, match="outside"):
        speedups.sums_down_the_trie(b" a ", np.ones(1, np.int64), columns,
                                    products.trie.children, products.trie.width,
                                    products.trie.n_inner, 5, products.nodes,
                                    np.zeros((1, products.nodes.shape[1])))

import csv

import numpy as np
import pytest

from classifier import LABELS, Corpus, example_weights, read_labeled_csv, seed_corpus
from classifier.training import WRITTEN_WEIGHT
from tests.conftest import ROOT


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", *LABELS])
        writer.writerows(rows)
    return path


def test_texts_that_normalise_alike_are_one_example_with_merged_labels(tmp_path):
    path = write_csv(tmp_path / "a.csv", [
        ["You idiot", 1, 0, 1, 0, 0, 0, 0],
        ["you   1d10t", 1, 0, 0, 0, 0, 0, 0],
        ["Nice piece", 0, 0, 0, 0, 0, 0, 0],
    ])
    corpus = read_labeled_csv([path])
    assert len(corpus) == 2
    merged = corpus.y[corpus.texts.index("You idiot")]
    assert merged.tolist() == [1, 0, 1, 0, 0, 0, 0]


@pytest.mark.parametrize("row, message", [
    (["text", 2, 0, 0, 0, 0, 0, 0], "label other than 0/1"),
    (["text", "x", 0, 0, 0, 0, 0, 0], "labels must be 0 or 1"),
    (["  ", 0, 0, 0, 0, 0, 0, 0], "empty text"),
])
def test_a_bad_row_is_refused_with_its_line_number(tmp_path, row, message):
    path = write_csv(tmp_path / "bad.csv", [["fine", 0, 0, 0, 0, 0, 0, 0], row])
    with pytest.raises(ValueError, match=rf"bad.csv:3: .*{message}"):
        read_labeled_csv([path])


def test_fingerprint_ignores_row_order():
    y = np.array([[1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1]], dtype=np.int8)
    a = Corpus(texts=["one", "two"], y=y)
    b = Corpus(texts=["two", "one"], y=y[::-1])
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != Corpus(texts=["one", "three"], y=y).fingerprint()


def test_seed_corpus_is_large_and_covers_every_label():
    corpus = seed_corpus(ROOT / "training_data")
    assert len(corpus) >= 1500
    counts = corpus.label_counts()
    assert all(counts[label] >= 50 for label in LABELS), counts
    clean = int((~corpus.y.any(axis=1)).sum())
    assert clean >= len(corpus) / 3


def test_adding_corpora_drops_repeats_and_keeps_the_first_labels():
    y_a = np.array([[1, 0, 1, 0, 0, 0, 0]], dtype=np.int8)
    y_b = np.array([[0, 0, 0, 0, 0, 0, 0], [-1, -1, -1, -1, -1, -1, 1],
                    [-1, -1, -1, -1, -1, -1, 0]], dtype=np.int8)
    combined = Corpus(texts=["You idiot"], y=y_a) + Corpus(
        texts=["you 1d10t", "buy now", "BUY NOW"], y=y_b)
    assert combined.texts == ["You idiot", "buy now"]
    assert combined.y.tolist() == [[1, 0, 1, 0, 0, 0, 0], [-1, -1, -1, -1, -1, -1, 1]]


def test_written_examples_weigh_less_only_beside_real_comments():
    assert example_weights([True, True, True]).tolist() == [1.0, 1.0, 1.0]
    assert example_weights([False, False]).tolist() == [1.0, 1.0]
    assert example_weights([True, False, True]).tolist() == [WRITTEN_WEIGHT, 1.0, WRITTEN_WEIGHT]
    assert 0 < WRITTEN_WEIGHT < 1

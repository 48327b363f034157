"""Word and character n-gram TF-IDF features, designed so that scoring is array arithmetic.

Two parts over the *distinct* words of a normalised text:

- word part: the word unigrams and bigrams present (binary term frequency) times their idf,
  l2-normalised;
- char part: for each distinct word, its in-word character n-gram counts (``char_wb``)
  times their idf, summed over words, divided by ``sqrt`` of the sum of idf squared over
  every n-gram occurrence of every word: the norm the sum would have if no two occurrences
  were of the same n-gram (within a word they rarely are; across words they often are).
  Summed over occurrences, a word's norm needs no count of its n-grams, so scoring never
  counts them (see ``CharProducts``).

That definition makes a linear model over these features decompose exactly by word: a
word's effect on a label is its n-grams' weights, which can be computed once per distinct
word and kept. :class:`WordTable` gives every distinct word a row (its tokens and its
weighted character n-grams, computed once); a batch of texts becomes arrays of rows, and
everything after that (distinct words per text, word n-grams, sums and norms) is done by
numpy over the whole batch. Training and scoring cut a new word into character n-grams the
same way (``_char_rows``); training keeps the rows as a sparse matrix (``transform``),
scoring keeps only their products with the weights (:class:`Projection`), so a word met
again costs one dictionary lookup. Counting each word once also means a comment cannot
dilute its abuse by repeating one harmless word.

Vocabulary and idf are scikit-learn's ``TfidfVectorizer``'s, to the bit (the tests check
it): ``fit`` counts them over distinct words on arrays (``_fit_by_distinct_words``), several
times faster than ``TfidfVectorizer`` on the same texts.
"""

from __future__ import annotations

import operator
import re
import threading
from dataclasses import dataclass
from itertools import accumulate, chain, compress, count, filterfalse, repeat
from typing import Callable, Iterable, Sequence

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin

from classifier.lookup import CharTrie, IntegerLookup
from classifier.normalize import (
    LONGEST_WORD,
    PHONE_PIECE,
    SENTENCE_ENDS,
    SPELLED_DOT,
    close_up_spaced_letters,
    join_kinds,
    normalize_in_full,
    normalized_sentences,
    split_plain_words,
    texts_that_may_have_spaced_out_letters,
)
from classifier.shared import FEATURES_VERSION  # noqa: F401 (where the definitions live)

# Words, plus the "*" and "#" readers use to mask letters ("f*ck"), so a masked word stays
# one token.
WORD_TOKENS = r"(?u)[\w*#]{2,}|\b\w\b"
_TOKENS = re.compile(WORD_TOKENS)
_TOKENS_AND_BREAKS = re.compile(WORD_TOKENS + r"|\n")
# Characters that end a token and are never part of one: a word that is letters and digits
# within them is that one token.
_EDGE_PUNCTUATION = "".join(chr(c) for c in range(128) if not re.match(r"[\w*#]", chr(c)))
_CACHE_LIMIT = 200_000
# Markers between rows in pieces_of_texts: a raw text's line break and a text's end
# (written there as words of one private-use character each; a text that holds either
# character takes the full path), and a sentence's end.
_LINE_WORD, _TEXT_WORD = "\ue000", "\ue001"
_TEXT_SEPARATOR = f" {_TEXT_WORD} "
_LINE_BREAK = _SENTENCE_BREAK = -1
_TEXT_END = -2
# What a raw word not in raw_rows reads as, at first: no row or code is ever this.
_UNSEEN = np.iinfo(np.int64).min
# In raw_rows, a raw word whose normalised form is not one word (none: "--"; several:
# "this/that") has a code at or below this: the span of rows it stands for.
_FIRST_SPAN = -3


class CommentVectorizer(TransformerMixin, BaseEstimator):
    """Word n-gram and per-word character n-gram TF-IDF of normalised texts.

    Parameters
    ----------
    word_ngram_range, char_ngram_range : tuple of int
        N-gram ranges of the two parts.
    min_df : int
        Features seen in fewer training texts are dropped.
    """

    def __init__(self, *, word_ngram_range: tuple[int, int] = (1, 2),
                 char_ngram_range: tuple[int, int] = (2, 5), min_df: int = 1) -> None:
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df

    def fit(self, X: Iterable[str], y=None) -> "CommentVectorizer":
        if not 1 <= self.char_ngram_range[0] <= self.char_ngram_range[1] <= 8:
            # Fitting counts character n-grams as base-128 numbers in 64-bit integers.
            raise ValueError(f"char_ngram_range must lie within (1, 8), "
                             f"got {self.char_ngram_range}")
        texts = list(X)
        if not isinstance(self.min_df, (int, np.integer)) or not 1 <= self.min_df <= max(
                len(texts), 1):
            raise ValueError(f"min_df must be a whole number from 1 to the number of texts "
                             f"({len(texts)}), got {self.min_df!r}")
        fitted = _fit_by_distinct_words(texts, self.word_ngram_range,
                                        self.char_ngram_range, int(self.min_df))
        if fitted is None:
            raise ValueError("empty vocabulary: the texts hold no n-gram seen in "
                             f"{self.min_df} or more of them")
        self.word_vocabulary_, self.word_idf_, self.char_vocabulary_, self.char_idf_ = fitted
        self.n_word_features_ = len(self.word_vocabulary_)
        self.n_features_out_ = self.n_word_features_ + len(self.char_vocabulary_)
        return self

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_ngrams", None)  # lookup indexes are rebuilt on demand
        state.pop("_ascii_chars", None)
        return state

    def transform(self, X: Iterable[str]) -> sparse.csr_matrix:
        """The feature matrix, shape (n_texts, n_word_features + n_char_features)."""
        texts = [text.split() for text in X]
        table = WordTable(self)
        pieces = table.pieces([[words] for words in texts])
        chars = table.take_new_rows().csr()
        n_texts = len(texts)
        word_part = sparse.csr_matrix(
            (self.word_idf_[pieces.feature_ids], (pieces.feature_groups, pieces.feature_ids)),
            shape=(n_texts, self.n_word_features_), dtype=np.float32)
        word_norms = np.sqrt(np.asarray(word_part.multiply(word_part).sum(axis=1)).ravel())
        has_words = sparse.csr_matrix(
            (np.ones(len(pieces.rows), np.float32), (pieces.row_groups, pieces.rows)),
            shape=(n_texts, chars.shape[0]))
        char_part = (has_words @ chars).tocsr()
        char_norms = np.sqrt(has_words @ table.sqnorms[:chars.shape[0]])
        matrix = sparse.hstack([_scale_rows(word_part, word_norms),
                                _scale_rows(char_part, char_norms)], format="csr")
        return matrix.astype(np.float32)

    def training_matrices(self, batches: Sequence[Sequence[str]]) -> list[sparse.csr_matrix]:
        """``transform`` of each batch, with sorted indices, for training: the same values
        to the bit, built with less time and memory (rows scaled in place, no copies for
        the sum, the stacking or the dtype)."""
        return [self._training_matrix(batch) for batch in batches]

    def _training_matrix(self, batch: Sequence[str]) -> sparse.csr_matrix:
        texts = [text.split() for text in batch]
        table = WordTable(self)  # its own, as in transform: the same sums in the same order
        pieces = table.pieces([[words] for words in texts])
        del texts
        chars = table.take_new_rows().csr()
        n_texts = len(batch)
        # transform's matrices, built from their sorted (row, column) pairs.
        word_part = sparse.csr_matrix(
            (self.word_idf_[pieces.feature_ids], pieces.feature_ids,
             _pointers(pieces.feature_groups, n_texts)),
            shape=(n_texts, self.n_word_features_), dtype=np.float32)
        word_norms = np.sqrt(np.asarray(word_part.multiply(word_part).sum(axis=1)).ravel())
        has_words = sparse.csr_matrix(
            (np.ones(len(pieces.rows), np.float32), pieces.rows,
             _pointers(pieces.row_groups, n_texts)), shape=(n_texts, chars.shape[0]))
        del pieces
        char_part = (has_words @ chars).tocsr()
        char_norms = np.sqrt(has_words @ table.sqnorms[:chars.shape[0]])
        del has_words, chars, table
        char_part.sort_indices()
        _scale_rows_in_place(word_part, word_norms)
        _scale_rows_in_place(char_part, char_norms)
        matrix = sparse.hstack([word_part, char_part], format="csr")
        matrix.has_sorted_indices = True  # each part's are, and chars come after words
        return matrix

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        names = np.empty(self.n_features_out_, dtype=object)
        for name, index in self.word_vocabulary_.items():
            names[index] = f"word:{name}"
        for name, index in self.char_vocabulary_.items():
            names[self.n_word_features_ + index] = f"char:{name}"
        return names

    def tokens(self, word: str) -> list[str]:
        """The word-part tokens of one normalised word."""
        return _TOKENS.findall(word)

    def ascii_char_trie(self) -> CharTrie:
        """The char vocabulary's ASCII n-grams as a trie (built once, not pickled)."""
        trie = self.__dict__.get("_ascii_chars")
        if trie is None:
            trie = self.__dict__["_ascii_chars"] = CharTrie(self.char_vocabulary_)
        return trie

    def ngram_index(self) -> tuple[int, list["IntegerLookup"]]:
        """For n-gram lookups by array: the unigram id base, and per n from 2 up to the
        largest, the n-grams of the vocabulary from their integer keys to their ids. A key
        is the tokens' unigram ids read as digits in base ``n_word_features_``."""
        index = self.__dict__.get("_ngrams")
        if index is None:
            vocabulary, base = self.word_vocabulary_, self.n_word_features_
            low, high = self.word_ngram_range
            if base ** high >= 2 ** 62:
                raise ValueError("word n-grams too long to index for this vocabulary")
            tables = []
            for n in range(2, high + 1):
                keys, ids = [], []
                for gram, gram_id in vocabulary.items():
                    parts = gram.split(" ")
                    if len(parts) == n and all(p in vocabulary for p in parts):
                        key = 0
                        for part in parts:
                            key = key * base + vocabulary[part]
                        keys.append(key)
                        ids.append(gram_id)
                tables.append(IntegerLookup(np.asarray(keys, dtype=np.int64),
                                            np.asarray(ids, dtype=np.int64)))
            index = self.__dict__["_ngrams"] = (base, tables)
        return index


# -- fitting: the vocabularies and idf of TfidfVectorizer, counted over distinct words ---------

def _fit_by_distinct_words(texts: list[str], word_ngram_range: tuple[int, int],
                           char_ngram_range: tuple[int, int], min_df: int
                           ) -> tuple[dict, np.ndarray, dict, np.ndarray] | None:
    """What ``_fit_with_scikit_learn`` returns, the same to the bit, several times faster.

    scikit-learn cuts every text into n-grams in Python and counts them one by one. Both
    parts decompose by white-space-separated word: a text's word tokens are its words'
    tokens in order (a token never spans white space), and its ``char_wb`` n-grams are its
    words' n-grams. So each distinct word is cut once, and the document frequencies are
    counted on arrays (word n-grams as runs of token ids; character n-grams through the
    texts' distinct words). Vocabulary ids follow the sorted terms and idf is smoothed, in
    float32, as scikit-learn does. None when a part would be empty (scikit-learn then
    raises its own error)."""
    n_texts = len(texts)
    split = [text.split() for text in texts]
    lengths = np.fromiter(map(len, split), dtype=np.int64, count=n_texts)
    occurrences = list(chain.from_iterable(split))
    del split
    distinct = list(dict.fromkeys(occurrences))
    index = {word: i for i, word in enumerate(distinct)}
    word_ids = np.fromiter(map(index.__getitem__, occurrences), dtype=np.int64,
                           count=len(occurrences))
    del occurrences, index
    text_of = np.repeat(np.arange(n_texts, dtype=np.int64), lengths)
    parts = []
    for counter, ngram_range in ((_word_ngram_frequencies, word_ngram_range),
                                 (_char_ngram_frequencies, char_ngram_range)):
        terms, frequencies = counter(distinct, word_ids, text_of, n_texts, ngram_range, min_df)
        if not terms:
            return None
        order = sorted(range(len(terms)), key=terms.__getitem__)
        vocabulary = {terms[i]: k for k, i in enumerate(order)}
        df = np.asarray(frequencies, dtype=np.float32)[order]
        # TfidfTransformer.fit, smooth_idf=True, in the dtype of the counts (float32).
        df += 1.0
        idf = np.full_like(df, fill_value=n_texts + 1, dtype=np.float32)
        idf /= df
        np.log(idf, out=idf)
        idf += 1.0
        parts += [vocabulary, idf]
    return parts[0], parts[1], parts[2], parts[3]


def _word_ngram_frequencies(distinct: list[str], word_ids: np.ndarray, text_of: np.ndarray,
                            n_texts: int, ngram_range: tuple[int, int], min_df: int
                            ) -> tuple[list[str], np.ndarray]:
    """The word n-grams seen in ``min_df`` texts or more, and in how many texts each is.

    ``distinct`` are the distinct words; ``word_ids`` every word of every text in order, as
    indexes into it, and ``text_of`` the text each belongs to. An n-gram is numbered by the
    number of its (n-1)-gram prefix and its last token, so any n fits in 64 bits."""
    token_lists = [_TOKENS.findall(word) for word in distinct]
    counts = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
    all_tokens = list(chain.from_iterable(token_lists))
    del token_lists
    names = list(dict.fromkeys(all_tokens))
    token_index = {token: i for i, token in enumerate(names)}
    word_tokens = np.fromiter(map(token_index.__getitem__, all_tokens), dtype=np.int64,
                              count=len(all_tokens))
    del all_tokens, token_index
    # Every text's tokens in order, and the text of each.
    per_occurrence = counts[word_ids]
    total = int(per_occurrence.sum())
    offsets = np.repeat((np.cumsum(counts) - counts)[word_ids]
                        - (np.cumsum(per_occurrence) - per_occurrence), per_occurrence)
    tokens = word_tokens[offsets + np.arange(total)]
    token_text = np.repeat(text_of, per_occurrence)
    del offsets, per_occurrence
    low, high = ngram_range
    terms: list[str] = []
    frequencies = []
    grams, n_grams = tokens, len(names)  # each position's n-gram number (-1: none)
    for n in range(1, high + 1):
        if n > 1:
            if total < n:
                break
            previous = grams[:-1]
            valid = (previous >= 0) & (token_text[:total - n + 1] == token_text[n - 1:])
            if n_grams * len(names) >= 2 ** 62:
                raise OverflowError("too many word n-grams to number")
            keys = previous[valid] * len(names) + tokens[n - 1:][valid]
            grams = np.full(total - n + 1, -1, dtype=np.int64)
            if len(keys):
                _, first, numbers = np.unique(keys, return_index=True, return_inverse=True)
                grams[valid] = numbers
                n_grams = len(first)
                starts = np.flatnonzero(valid)[first]  # where each n-gram is first seen
            else:
                n_grams, starts = 0, np.zeros(0, np.int64)
        if n < low or n_grams == 0:
            continue
        seen = grams >= 0
        df = np.bincount(_distinct_pairs(token_text[:len(grams)][seen], grams[seen], n_grams),
                         minlength=n_grams)
        kept = np.flatnonzero(df >= min_df)
        if n == 1:
            terms += [names[i] for i in kept.tolist()]
        else:
            runs = tokens[starts[kept][:, None] + np.arange(n)].tolist()
            terms += [" ".join([names[t] for t in run]) for run in runs]
        frequencies.append(df[kept])
    return terms, (np.concatenate(frequencies) if frequencies else np.zeros(0, np.int64))


def _char_ngram_frequencies(distinct: list[str], word_ids: np.ndarray, text_of: np.ndarray,
                            n_texts: int, ngram_range: tuple[int, int], min_df: int
                            ) -> tuple[list[str], np.ndarray]:
    """The ``char_wb`` n-grams seen in ``min_df`` texts or more, and in how many texts each
    is (arguments as :func:`_word_ngram_frequencies`). A text holds an n-gram when one of
    its distinct words does: a product of (text x word) and (word x n-gram) incidence."""
    low, high = ngram_range
    fast = [word.isascii() and "\x00" not in word and len(word) + 2 >= low
            for word in distinct]
    word_rows, keys = [], []
    fast_rows = [i for i, ok in enumerate(fast) if ok]
    if fast_rows:
        # ASCII words all at once: windows of each padded " word " read in base 128 (no
        # NUL, so lengths cannot collide). A word of fewer than
        # n + 1 padded characters is its own last n-gram, the window of its full length.
        padded = np.fromiter((len(distinct[i]) + 2 for i in fast_rows), dtype=np.int64,
                             count=len(fast_rows))
        codes = np.frombuffer("".join(f" {distinct[i]} " for i in fast_rows).encode("ascii"),
                              dtype=np.uint8).astype(np.int64)
        word_of = np.repeat(np.asarray(fast_rows, dtype=np.int64), padded)
        window = codes
        for n in range(1, high + 1):
            if n > 1:
                if len(codes) < n:
                    break
                window = window[:-1] * 128 + codes[n - 1:]
            if n < low:
                continue
            starts = np.flatnonzero(word_of[:len(window)] == word_of[n - 1:])
            word_rows.append(word_of[starts])
            keys.append(window[starts])
    other_rows, other_keys, strings = [], [], {}
    for i, ok in enumerate(fast):
        if ok:
            continue
        for gram in _char_wb_grams(distinct[i], low, high):
            if gram.isascii() and "\x00" not in gram:
                key = 0
                for byte in gram.encode("ascii"):
                    key = key * 128 + byte
                other_rows.append(i)
                other_keys.append(key)
            else:
                other_rows.append(-1 - i)  # numbered after the ASCII n-grams, below
                other_keys.append(strings.setdefault(gram, len(strings)))
    rows = np.concatenate(word_rows + [np.asarray(other_rows, dtype=np.int64)])
    all_keys = np.concatenate(keys + [np.asarray(other_keys, dtype=np.int64)])
    del word_rows, keys, other_rows, other_keys
    as_number = rows >= 0
    numbers, ids = np.unique(all_keys[as_number], return_inverse=True)
    grams = np.empty(len(all_keys), dtype=np.int64)
    grams[as_number] = ids
    grams[~as_number] = len(numbers) + all_keys[~as_number]
    rows[~as_number] = -1 - rows[~as_number]
    del all_keys, ids
    n_grams = len(numbers) + len(strings)
    if n_grams == 0:
        return [], np.zeros(0, np.int64)
    # Incidences (word x n-gram) and (text x word), each pair once.
    pairs = _distinct_pairs(rows, grams, n_grams, keep_first=True)
    del rows, grams
    pair_words, pair_grams = np.divmod(pairs, n_grams)
    has_gram = sparse.csr_matrix(
        (np.ones(len(pairs), np.float32), pair_grams,
         np.concatenate([[0], np.cumsum(np.bincount(pair_words, minlength=len(distinct)))])),
        shape=(len(distinct), n_grams))
    del pairs, pair_words, pair_grams
    text_words = _distinct_pairs(text_of, word_ids, len(distinct), keep_first=True)
    texts_, words_ = np.divmod(text_words, len(distinct))
    has_word = sparse.csr_matrix(
        (np.ones(len(text_words), np.float32), words_,
         np.concatenate([[0], np.cumsum(np.bincount(texts_, minlength=n_texts))])),
        shape=(n_texts, len(distinct)))
    del text_words, texts_, words_
    df = np.zeros(n_grams, dtype=np.int64)
    for first in range(0, n_texts, 20_000):  # in blocks, to bound the product's memory
        product = has_word[first:first + 20_000] @ has_gram
        df += np.bincount(product.indices, minlength=n_grams)
        del product
    kept = np.flatnonzero(df >= min_df)
    by_number = kept[kept < len(numbers)]
    digits = (numbers[by_number][:, None] >> (7 * np.arange(7, -1, -1))) & 127
    terms = [bytes(row).lstrip(b"\x00").decode("ascii")
             for row in digits.astype(np.uint8).tolist()]
    by_string = list(strings)
    terms += [by_string[i - len(numbers)] for i in kept[kept >= len(numbers)].tolist()]
    return terms, df[kept]


def _char_wb_grams(word: str, low: int, high: int) -> list[str]:
    """A word's ``char_wb`` n-grams, with repeats (scikit-learn's rule: a word no longer
    than n is one n-gram, and larger n are skipped)."""
    padded = f" {word} "
    length = len(padded)
    grams: list[str] = []
    for n in range(low, high + 1):
        if length <= n:
            grams.append(padded)
            break
        grams += [padded[i:i + n] for i in range(length - n + 1)]
    return grams


def _distinct_pairs(first: np.ndarray, second: np.ndarray, n_second: int, *,
                    keep_first: bool = False) -> np.ndarray:
    """The distinct (first, second) pairs: their ``second`` values, or with ``keep_first``
    the pairs as ``first * n_second + second``, sorted."""
    if len(first) and int(first.max()) * n_second >= 2 ** 62:
        raise OverflowError("too many pairs to number")
    keys = _distinct(first * n_second + second).astype(np.int64)
    return keys if keep_first else keys % n_second


def _scale_rows(matrix: sparse.csr_matrix, norms: np.ndarray) -> sparse.csr_matrix:
    scale = np.divide(1.0, norms, out=np.zeros_like(norms, dtype=np.float64), where=norms > 0)
    return sparse.diags(scale.astype(np.float32)) @ matrix


def _scale_rows_in_place(matrix: sparse.csr_matrix, norms: np.ndarray) -> None:
    """``_scale_rows`` on the matrix itself (the same float32 products)."""
    scale = np.divide(1.0, norms, out=np.zeros_like(norms, dtype=np.float64), where=norms > 0)
    matrix.data *= np.repeat(scale.astype(np.float32), np.diff(matrix.indptr))


def _pointers(groups: np.ndarray, n_groups: int) -> np.ndarray:
    """CSR row pointers of entries whose rows, ``groups``, are sorted."""
    pointers = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(groups, minlength=n_groups), out=pointers[1:])
    return pointers


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``starts[i], starts[i] + 1, ..., starts[i] + lengths[i] - 1`` for each i, one after
    the other: where each of several runs of lengths ``lengths`` lies in an array."""
    ends = np.cumsum(lengths)
    return np.arange(int(ends[-1]) if len(ends) else 0) + np.repeat(starts - (ends - lengths),
                                                                    lengths)


@dataclass(frozen=True, slots=True)
class CharRows:
    """Rows of weighted character n-gram counts, one per word: the arrays of a CSR matrix,
    without building one (scipy's checks cost more than a comment's new words)."""

    data: np.ndarray  # float32
    indices: np.ndarray  # int32 char vocabulary ids, sorted within each row
    indptr: np.ndarray
    n_columns: int

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    def csr(self) -> sparse.csr_matrix:
        return sparse.csr_matrix((self.data, self.indices, self.indptr),
                                 shape=(self.n_rows, self.n_columns))

    @staticmethod
    def stack(blocks: list["CharRows"], n_columns: int) -> "CharRows":
        """The blocks' rows one after the other."""
        if len(blocks) == 1:
            return blocks[0]
        if not blocks:
            return CharRows(np.zeros(0, np.float32), np.zeros(0, np.int32),
                            np.zeros(1, np.int64), n_columns)
        offsets = np.cumsum([0] + [len(block.data) for block in blocks[:-1]])
        return CharRows(np.concatenate([block.data for block in blocks]),
                        np.concatenate([block.indices for block in blocks]),
                        np.concatenate([blocks[0].indptr[:1]] + [
                            block.indptr[1:] + offset for block, offset in zip(blocks, offsets)]),
                        n_columns)


@dataclass(frozen=True, slots=True)
class Pieces:
    """A batch of texts as arrays. Groups 0..n_texts-1 are the whole texts; groups from
    n_texts on are sentences scored on their own, each owned by ``owners[k]``.

    ``feature_groups``/``feature_ids``: each group's distinct word-part features.
    ``row_groups``/``rows``: each group's distinct words, as word-table rows. Both are by
    group (see ``WordTable._distinct_by_group`` for the order within one)."""

    n_groups: int
    owners: np.ndarray
    feature_groups: np.ndarray
    feature_ids: np.ndarray
    row_groups: np.ndarray
    rows: np.ndarray


class WordTable:
    """Every distinct normalised word seen so far, as a row: its word-part token ids, the
    squared norm of its character part, and that part itself (its weighted character
    n-grams to train; to score, their products with the weights). A word's row is computed
    once; a batch of texts then costs one dictionary lookup per word, and the rest is done
    on arrays."""

    def __init__(self, vectorizer: CommentVectorizer, *, capacity: int = 1024,
                 char_products: CharProducts | None = None) -> None:
        """``capacity``: rows to make room for at once (the arrays grow past it by doubling,
        copying all; room never used costs no memory, as the kernel maps zeroed pages in
        only when written). ``char_products``: when given (to score), a new word's
        character part is kept as its products with the weights (``take_new_products``),
        not as its weighted n-grams (``take_new_rows``)."""
        self.vectorizer = vectorizer
        self.char_products = char_products
        self.index: dict[str, int] = {}
        self.token_starts = np.zeros(capacity, np.int64)
        self.token_counts = np.zeros(capacity, np.int64)
        self.token_ids = np.zeros(2 * capacity, np.int64)  # unigram ids, -1 where unknown
        self.sqnorms = np.zeros(capacity)
        self.ends = np.zeros(capacity, bool)  # whether the word closes a sentence
        self.join_kinds = np.zeros(capacity, np.int8)  # join_kind of the word
        # White-space words of raw texts to their row (a marker word to its marker), or to
        # the code of a span of rows (see _FIRST_SPAN), which are kept one after the other
        # in span_rows.
        self.raw_rows: dict[str, int] = {_LINE_WORD: _LINE_BREAK, _TEXT_WORD: _TEXT_END}
        self.span_starts = np.zeros(0, np.int64)
        self.span_lengths = np.zeros(0, np.int64)
        self.span_rows = np.zeros(0, np.int64)
        self.n_spans = self.n_span_rows = 0
        self.n_tokens = 0
        self.n_taken = 0  # rows whose character n-grams were handed out
        self._untaken: list = []  # CharRows, or with char_products arrays of products

    def __len__(self) -> int:
        return len(self.index)

    def pieces(self, texts: Sequence[Sequence[Sequence[str]]], *,
               min_words: int | None = None) -> Pieces:
        """The batch's groups: each whole text and, when ``min_words`` is given, each sentence
        of ``min_words`` or more words of a text that has at least two such sentences
        (n-grams that cross a sentence boundary belong to the whole text only)."""
        # Python touches each word once, in C-level loops; the rest is arrays.
        sentences = list(chain.from_iterable(texts))
        rows = np.asarray(self.rows(list(chain.from_iterable(sentences))), dtype=np.int64)
        lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
        sentence_owner = np.repeat(np.arange(len(texts)), [len(t) for t in texts])
        sentence_of = np.repeat(np.arange(len(lengths)), lengths)
        return self._pieces(rows, sentence_of, sentence_owner, len(texts), min_words)

    def pieces_of_texts(self, texts: Sequence[str], *, min_words: int | None = None) -> Pieces:
        """``pieces`` of raw texts, cut into their normalised sentences as
        ``normalized_sentences`` cuts them.

        Nearly every text can be normalised word by word (see ``has_spaced_out_letters``):
        the batch's white-space words go to rows through ``raw_rows``, one lookup each, and
        sentences are cut on arrays, after the rows of words that close one. Only texts
        whose words join across white space, and texts holding a character this uses as a
        marker (U+E000, U+E001), go through the normaliser's full path."""
        sequence, full = self._word_by_word_sequence(texts)
        # Texts cut word by word where words join after all (a spelled-out dot, phone-number
        # pieces side by side) take the full path too.
        kinds = self.join_kinds[np.maximum(sequence, 0)] * (sequence >= 0)
        joined = (kinds == SPELLED_DOT)
        joined[:-1] |= (kinds[:-1] == PHONE_PIECE) & (kinds[1:] == PHONE_PIECE)
        if joined.any() or full:
            is_end = sequence == _TEXT_END
            ends = np.flatnonzero(is_end)
            redo = set(full).union((np.cumsum(is_end) - is_end)[joined].tolist())
            parts, done = [], 0
            for i in sorted(redo):
                start = ends[i - 1] + 1 if i else 0
                parts += [sequence[done:start], self._full_path_sequence(texts[i])]
                done = ends[i] + 1
            sequence = np.concatenate(parts + [sequence[done:]])
        # Words, each with its text; a sentence starts after a marker or a closing word.
        is_word = sequence >= 0
        rows = sequence[is_word]
        text_of = np.cumsum(sequence == _TEXT_END)[is_word]
        previous = np.concatenate([[_TEXT_END], sequence[:-1]])[is_word]
        starts = previous < 0
        after_word = np.flatnonzero(~starts)
        starts[after_word] = self.ends[previous[after_word]]
        sentence_of = np.cumsum(starts) - 1
        return self._pieces(rows, sentence_of, text_of[starts], len(texts), min_words)

    def _word_by_word_sequence(self, texts: Sequence[str]) -> tuple[np.ndarray, list[int]]:
        """All texts' rows in order, each text's followed by ``_TEXT_END`` (a line break's
        by ``_LINE_BREAK``), from their white-space words; and the texts that hold a marker
        character, left empty here for the full path.

        The whole batch is one string split once, its texts apart by a marker word: every
        step is a C-level pass over all the words, none a Python loop over texts."""
        if not texts:
            return np.zeros(0, np.int64), []
        prepared = list(texts)
        everything = "".join(prepared)
        full = []
        if _LINE_WORD in everything or _TEXT_WORD in everything:
            full = [i for i, text in enumerate(prepared)
                    if _LINE_WORD in text or _TEXT_WORD in text]
        for i in full:
            prepared[i] = ""
        for i in texts_that_may_have_spaced_out_letters(prepared):
            prepared[i] = close_up_spaced_letters(prepared[i])
        batch = _TEXT_SEPARATOR.join(prepared) + _TEXT_SEPARATOR
        if "\n" in batch:
            batch = batch.replace("\n", f" {_LINE_WORD} ")
        raw = batch.split()
        sequence = np.fromiter(map(self.raw_rows.get, raw, repeat(_UNSEEN)), dtype=np.int64,
                               count=len(raw))
        missing = np.flatnonzero(sequence == _UNSEEN)
        if len(missing):
            sequence[missing] = self._codes_of_missing(list(map(raw.__getitem__,
                                                                missing.tolist())))
        if self.n_spans and sequence.min() <= _FIRST_SPAN:
            sequence = self._expand_spans(sequence)
        return sequence, full

    def _expand_spans(self, codes: np.ndarray) -> np.ndarray:
        """``codes`` with each span's code replaced by its rows."""
        is_span = codes <= _FIRST_SPAN
        spans = _FIRST_SPAN - codes[is_span]
        lengths = self.span_lengths[spans]
        sizes = np.ones(len(codes), np.int64)
        sizes[is_span] = lengths
        expanded = np.repeat(codes, sizes)
        places = _ranges((np.cumsum(sizes) - sizes)[is_span], lengths)
        expanded[places] = self.span_rows[_ranges(self.span_starts[spans], lengths)]
        return expanded

    def _codes_of_missing(self, words: list[str]) -> np.ndarray:
        """The codes of words ``raw_rows`` did not hold: new words, and long ones, which are
        kept under their first LONGEST_WORD characters, all their form depends on (so that
        keys stay short)."""
        keys = list(map(operator.getitem, words, repeat(slice(LONGEST_WORD))))
        self._add_raw(list(filterfalse(self.raw_rows.__contains__, dict.fromkeys(keys))))
        return np.fromiter(map(self.raw_rows.__getitem__, keys), dtype=np.int64,
                           count=len(keys))

    def _add_raw(self, raw: list[str]) -> None:
        """Rows for new raw words, through their normalised forms: the plain words (most)
        each have one, the rest any number."""
        plain, plain_forms, others = split_plain_words(raw)
        other_forms = list(map(normalize_in_full, others))
        rows = self.rows(plain_forms + list(chain.from_iterable(other_forms)))
        self.raw_rows.update(zip(plain, rows))
        start = len(plain)
        for word, forms in zip(others, other_forms):
            end = start + len(forms)
            one = end == start + 1
            self.raw_rows[word] = rows[start] if one else self._add_span(rows[start:end])
            start = end

    def _add_span(self, rows: list[int]) -> int:
        """The code of a new span of ``rows``."""
        end = self.n_span_rows + len(rows)
        self.span_rows = _fit(self.span_rows, end)
        self.span_rows[self.n_span_rows:end] = rows
        self.span_starts = _fit(self.span_starts, self.n_spans + 1)
        self.span_lengths = _fit(self.span_lengths, self.n_spans + 1)
        self.span_starts[self.n_spans] = self.n_span_rows
        self.span_lengths[self.n_spans] = len(rows)
        self.n_span_rows = end
        self.n_spans += 1
        return _FIRST_SPAN - (self.n_spans - 1)

    def _full_path_sequence(self, text: str) -> np.ndarray:
        """A text's rows from ``normalized_sentences``, ``_SENTENCE_BREAK`` after each
        sentence, then ``_TEXT_END``."""
        sentences = normalized_sentences(text)
        rows = self.rows(list(chain.from_iterable(sentences)))
        ends = list(accumulate(map(len, sentences), initial=0))
        items = [*chain.from_iterable((*rows[start:end], _SENTENCE_BREAK)
                                      for start, end in zip(ends, ends[1:])), _TEXT_END]
        return np.asarray(items, dtype=np.int64)

    def rows(self, words: list[str]) -> list[int]:
        """The rows of normalised words, new ones added."""
        rows = list(map(self.index.get, words))
        if None in rows:
            unseen = compress(words, map(operator.is_, rows, repeat(None)))
            self._add(list(dict.fromkeys(unseen)))
            rows = list(map(self.index.__getitem__, words))
        return rows

    def _pieces(self, occurrence_rows: np.ndarray, sentence_of: np.ndarray,
                sentence_owner: np.ndarray, n_texts: int, min_words: int | None) -> Pieces:
        """Pieces from each word's row and sentence, and each sentence's text."""
        lengths_array = np.bincount(sentence_of, minlength=len(sentence_owner))
        text_of = sentence_owner[sentence_of]

        # Which sentences are scored on their own, and their group numbers.
        scored = np.zeros(len(lengths_array), bool)
        if min_words is not None and len(lengths_array):
            long_enough = lengths_array >= min_words
            per_text = np.bincount(sentence_owner[long_enough], minlength=n_texts)
            scored = long_enough & (per_text[sentence_owner] >= 2)
        sentence_group = np.full(len(lengths_array), -1, np.int64)
        sentence_group[scored] = n_texts + np.arange(int(scored.sum()))
        owners = sentence_owner[scored]
        n_groups = n_texts + len(owners)

        # Distinct words per group.
        in_scored = scored[sentence_of] if len(sentence_of) else np.zeros(0, bool)
        row_groups, word_rows = self._distinct_by_group(
            np.concatenate([text_of, sentence_group[sentence_of[in_scored]]]),
            np.concatenate([occurrence_rows, occurrence_rows[in_scored]]), n_groups,
            len(self.index))
        feature_groups, feature_ids = self._word_ngrams(occurrence_rows, text_of, sentence_of,
                                                        sentence_group, n_groups)
        return Pieces(n_groups, owners, feature_groups, feature_ids, row_groups, word_rows)

    @staticmethod
    def _distinct_by_group(groups: np.ndarray, values: np.ndarray, n_groups: int,
                           n_values: int) -> tuple[np.ndarray, np.ndarray]:
        """Each group's distinct values, as (groups, values), sorted."""
        return np.divmod(_distinct(groups * n_values + values), n_values)

    def _word_ngrams(self, occurrence_rows: np.ndarray, text_of: np.ndarray,
                     sentence_of: np.ndarray, sentence_group: np.ndarray, n_groups: int
                     ) -> tuple[np.ndarray, np.ndarray]:
        """(group, feature id) of each group's distinct word n-grams: the words' tokens in
        order, n-grams read as integer keys and looked up all at once."""
        counts = self.token_counts[occurrence_rows]
        total = int(counts.sum())
        tokens = self.token_ids[_ranges(self.token_starts[occurrence_rows], counts)]
        token_text = np.repeat(text_of, counts)
        token_sentence = np.repeat(sentence_of, counts)
        base, tables = self.vectorizer.ngram_index()
        low, high = self.vectorizer.word_ngram_range
        feature_groups, feature_ids = [], []
        grams = tokens
        for n in range(1, high + 1):
            if n > 1:
                if total < n:
                    break
                previous = grams[:-1]
                grams = np.where((previous >= 0) & (tokens[n - 1:] >= 0),
                                 previous * base + tokens[n - 1:], -1)
            if n < low:
                continue
            # An n-gram starting at token i ends at token i + n - 1: slices line them up.
            same_text = token_text[:len(grams)] == token_text[n - 1:]
            if n == 1:
                ids = grams
            else:
                ids = np.full(len(grams), -1)
                candidates = np.flatnonzero(grams >= 0)
                ids[candidates] = tables[n - 2].find(grams[candidates])
            known = (ids >= 0) & same_text
            first_sentence = token_sentence[:len(grams)]
            own = known & (sentence_group[first_sentence] >= 0) \
                & (first_sentence == token_sentence[n - 1:])
            feature_groups += [token_text[:len(grams)][known], sentence_group[first_sentence[own]]]
            feature_ids += [ids[known], ids[own]]
        if not feature_groups:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return self._distinct_by_group(np.concatenate(feature_groups),
                                       np.concatenate(feature_ids), n_groups, base)

    def has_new_rows(self) -> bool:
        """Whether rows were added since the last ``take_new_rows`` (or products)."""
        return bool(self._untaken)

    def take_new_rows(self) -> CharRows:
        """The weighted character n-grams of the rows added since the last call, one row each
        (rows ``n_taken`` before the call onwards)."""
        blocks, self._untaken = self._untaken, []
        block = CharRows.stack(blocks, len(self.vectorizer.char_vocabulary_))
        self.n_taken += block.n_rows
        return block

    def take_new_products(self) -> np.ndarray:
        """With ``char_products``: the character products of the rows added since the last
        call, a row each (rows ``n_taken`` before the call onwards)."""
        blocks, self._untaken = self._untaken, []
        products = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
        self.n_taken += len(products)
        return products

    def _add(self, words: list[str]) -> None:
        """Rows for new (distinct, unseen) words, filled in at once."""
        self.index.update(zip(words, count(len(self.index))))
        self._store_new_rows(words)

    def _store_new_rows(self, words: list[str]) -> None:
        """Fill the rows of the words just added: their tokens and squared norms go in the
        table; their character parts, one block, wait for ``take_new_rows`` (weighted
        n-grams) or, with ``char_products``, ``take_new_products``."""
        first, end = len(self.index) - len(words), len(self.index)
        vocabulary = self.vectorizer.word_vocabulary_
        counts, ids = _token_ids_of_each(words, vocabulary)
        n_new_tokens = len(ids)
        self.token_ids = _fit(self.token_ids, self.n_tokens + n_new_tokens)
        self.token_starts = _fit(self.token_starts, end)
        self.token_counts = _fit(self.token_counts, end)
        self.sqnorms = _fit(self.sqnorms, end)
        self.ends = _fit(self.ends, end)
        self.join_kinds = _fit(self.join_kinds, end)
        self.join_kinds[first:end] = 0
        for i, kind in join_kinds(words):
            self.join_kinds[first + i] = kind
        self.ends[first:end] = np.fromiter(map(str.endswith, words, repeat(SENTENCE_ENDS)),
                                           dtype=bool, count=len(words))
        self.token_ids[self.n_tokens:self.n_tokens + n_new_tokens] = ids
        self.token_starts[first:end] = self.n_tokens + np.cumsum(counts) - counts
        self.token_counts[first:end] = counts
        self.n_tokens += n_new_tokens
        if self.char_products is None:
            block = _char_rows(words, self.vectorizer)
            sqnorms = _squared_norms(block, self.vectorizer)
        else:
            block, sqnorms = self.char_products(words)
        self.sqnorms[first:end] = sqnorms
        self._untaken.append(block)


def _token_ids_of_each(words: list[str], vocabulary: dict[str, int]
                       ) -> tuple[np.ndarray, np.ndarray]:
    """How many word-part tokens each word has, and all their vocabulary ids in order (-1
    where unknown). A word that is letters and digits within punctuation (most are) is
    one token, found by stripping; the rest go to ``_token_ids_by_pattern``."""
    cores = list(map(str.strip, words, repeat(_EDGE_PUNCTUATION)))
    simple = list(map(str.isalnum, cores))
    simple_ids = np.fromiter(map(vocabulary.get, compress(cores, simple), repeat(-1)),
                             dtype=np.int64)
    if len(simple_ids) == len(words):
        return np.ones(len(words), np.int64), simple_ids
    is_simple = np.array(simple, dtype=bool)
    other_counts, other_ids = _token_ids_by_pattern(
        list(compress(words, map(operator.not_, simple))), vocabulary)
    counts = np.ones(len(words), np.int64)
    counts[~is_simple] = other_counts
    starts = np.cumsum(counts) - counts
    ids = np.empty(int(counts.sum()), np.int64)
    ids[starts[is_simple]] = simple_ids
    ids[_ranges(starts[~is_simple], other_counts)] = other_ids
    return counts, ids


def _token_ids_by_pattern(words: list[str], vocabulary: dict[str, int]
                          ) -> tuple[np.ndarray, np.ndarray]:
    """``_token_ids_of_each`` by the token pattern: one search over all the words, line
    breaks between (a token never holds white space, and a line break is a word boundary as
    the ends of a word are). Words holding white space themselves are searched one by one."""
    joined = "\n".join(words)
    if not words or joined.count("\n") != len(words) - 1:
        tokens = [_TOKENS.findall(word) for word in words]
        counts = np.fromiter(map(len, tokens), dtype=np.int64, count=len(words))
        found = list(chain.from_iterable(tokens))
        return counts, np.fromiter(map(vocabulary.get, found, repeat(-1)), dtype=np.int64,
                                   count=len(found))
    found = _TOKENS_AND_BREAKS.findall(joined)
    ids = np.fromiter(map(vocabulary.get, found, repeat(-1)), dtype=np.int64, count=len(found))
    is_break = np.fromiter(map("\n".__eq__, found), dtype=bool, count=len(found))
    counts = np.diff(np.flatnonzero(is_break), prepend=-1, append=len(found)) - 1
    return counts, ids[~is_break]


def _fit(array: np.ndarray, size: int) -> np.ndarray:
    """``array``, doubled as often as needed to hold ``size`` items."""
    if size <= len(array):
        return array
    grown = np.zeros(max(size, 2 * len(array)), dtype=array.dtype)
    grown[:len(array)] = array
    return grown


def _distinct(keys: np.ndarray, *, counts: bool = False
              ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values, and with ``counts`` how often each occurs (``np.unique``
    hashes, which is about 3x slower here; 32-bit keys sort almost twice as fast as 64-bit
    ones)."""
    if len(keys) and keys.max() < 2 ** 31:
        keys = keys.astype(np.int32)
    keys = np.sort(keys)
    first = np.concatenate([[True], keys[1:] != keys[:-1]]) if len(keys) else \
        np.zeros(0, bool)
    if not counts:
        return keys[first]
    starts = np.flatnonzero(first)
    return keys[starts], np.diff(np.append(starts, len(keys)))


def _char_rows(words: list[str], vectorizer: CommentVectorizer) -> CharRows:
    """One row per word: its ``char_wb`` n-gram counts times their idf (for training; the
    scoring path takes ``CharProducts``). ASCII words (nearly all, after normalisation) are
    cut into n-grams all at once, down the vocabulary's trie (``_ascii_char_ngrams``). Other
    words take the per-gram path, as do words too short for the smallest n when it is
    above 3 (scikit-learn counts such a word once, as a shorter n-gram, which no window
    gives)."""
    rows, columns = [], []
    trie_words, slow = _trie_and_other_words(words, vectorizer)
    if len(trie_words):
        found_rows, found_columns = _ascii_char_ngrams(
            [words[i] for i in trie_words.tolist()] if slow else words, vectorizer)
        rows.append(trie_words[found_rows])
        columns.append(found_columns)
    if slow:
        ids = [_char_ngram_ids(words[i], vectorizer) for i in slow]
        rows.append(np.repeat(np.asarray(slow, dtype=np.int64), list(map(len, ids))))
        columns.append(np.fromiter(chain.from_iterable(ids), dtype=np.int64))
    row_array = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    column_array = np.concatenate(columns) if columns else np.zeros(0, np.int64)
    # Count each (word, n-gram) pair: their sorted keys also order them by word.
    n_columns = len(vectorizer.char_vocabulary_)
    pairs, counts = _distinct(row_array * n_columns + column_array, counts=True)
    word_of, column_of = np.divmod(pairs, n_columns)
    pointers = _pointers(word_of, len(words))
    data = counts.astype(np.float32) * vectorizer.char_idf_[column_of]
    # 32-bit indices, which scipy would otherwise check and convert to.
    return CharRows(data, column_of.astype(np.int32), pointers.astype(np.int32), n_columns)


def _trie_and_other_words(words: list[str], vectorizer: CommentVectorizer
                          ) -> tuple[np.ndarray, list[int]]:
    """The indexes of the words the trie can cut (ASCII, and long enough for the smallest
    n when it is above 3), and of the others."""
    shortest = vectorizer.char_ngram_range[0] - 2  # a shorter word is one n-gram: per gram
    if shortest <= 1:  # every word has a window of the smallest n
        slow = [] if "".join(words).isascii() else \
            list(compress(count(), map(operator.not_, map(str.isascii, words))))
    else:
        slow = [i for i, w in enumerate(words) if not (w.isascii() and len(w) >= shortest)]
    everything = np.arange(len(words))
    return (np.delete(everything, slow) if slow else everything), slow


def _ascii_char_ngrams(words: list[str], vectorizer: CommentVectorizer
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(word index, char vocabulary id) of every in-vocabulary n-gram of ASCII ``words``,
    with repeats. Windows of each padded word " word ", all of them grown one character at
    a time down the vocabulary's trie; scikit-learn's rule that a word no longer than n is
    one n-gram and larger n are skipped falls out of it, as no window crosses words."""
    trie = vectorizer.ascii_char_trie()
    columns, padded_lengths = _padded_columns(words, trie)
    word_of = np.repeat(np.arange(len(words)), padded_lengths)
    low, high = vectorizer.char_ngram_range
    found_rows, found_columns = [], []
    for n, starts, nodes in trie.windows(columns, high):
        if n >= low:
            ids = trie.ids[nodes]
            hit = ids >= 0
            found_rows.append(word_of[starts[hit]])
            found_columns.append(ids[hit])
    if not found_rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(found_rows), np.concatenate(found_columns)


def _padded_columns(words: list[str], trie: CharTrie) -> tuple[np.ndarray, np.ndarray]:
    """ASCII ``words`` padded as " word " and put end to end, as trie columns (a window
    that crosses from one word to the next holds two spaces, which no n-gram does), and
    each padded word's length."""
    padded_lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words)) + 2
    return trie.columns_of(f" {'  '.join(words)} " if words else ""), padded_lengths


def _char_ngram_ids(word: str, vectorizer: CommentVectorizer) -> list[int]:
    """The vocabulary ids of a word's ``char_wb`` n-grams, with repeats."""
    low, high = vectorizer.char_ngram_range
    return [i for i in map(vectorizer.char_vocabulary_.get, _char_wb_grams(word, low, high))
            if i is not None]


class CharProducts:
    """New words' character parts as scoring needs them: each word's weighted n-gram counts
    (``_char_rows``, the rows training builds) times the weights, and its squared norm.
    A word's products are computed once and kept by the :class:`Projection`."""

    def __init__(self, vectorizer: CommentVectorizer, weights: np.ndarray) -> None:
        """``weights``: the character part's, shape (n_char_features, n_outputs)."""
        self.vectorizer = vectorizer
        # Row-major, so that a word's n-grams gather whole rows (a transposed view would be
        # copied on every product).
        self.weights = np.ascontiguousarray(weights, dtype=np.float64)

    def __call__(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each word's products, shape (n_words, n_outputs), and squared norm."""
        block = _char_rows(words, self.vectorizer)
        products = np.zeros((block.n_rows, self.weights.shape[1]))
        filled = np.flatnonzero(np.diff(block.indptr))
        if len(filled):  # a gather and a sum per word: no sparse matrix to set up
            products[filled] = np.add.reduceat(
                self.weights[block.indices] * block.data[:, None], block.indptr[filled])
        return products, _squared_norms(block, self.vectorizer)


def _squared_norms(block: CharRows, vectorizer: CommentVectorizer) -> np.ndarray:
    """Each row's sum of idf squared over its n-gram occurrences (count x idf x idf): the
    character part's norm before the words are summed (see the module's docstring)."""
    return np.bincount(np.repeat(np.arange(block.n_rows), np.diff(block.indptr)),
                       weights=block.data.astype(np.float64)
                       * vectorizer.char_idf_[block.indices],
                       minlength=block.n_rows)


class Projection:
    """A linear map (``weights``: n_outputs x n_features) applied to texts word by word.

    Equal to ``vectorizer.transform(texts) @ weights.T`` without building the features:
    each distinct word's char-part product is computed once (``CharProducts``) and kept in a
    table that grows as new words arrive (bounded: it starts over past 200,000 words,
    against hostile input); a batch is then summed by group.
    """

    def __init__(self, vectorizer: CommentVectorizer, weights: np.ndarray) -> None:
        self.vectorizer = vectorizer
        split = vectorizer.n_word_features_
        idf = vectorizer.word_idf_.astype(np.float64)
        self.n_outputs = weights.shape[0]
        self.word_table = np.ascontiguousarray((weights[:, :split].astype(np.float64) * idf).T)
        self.word_idf_squared = idf ** 2
        self.char_products = CharProducts(vectorizer, np.asarray(weights[:, split:].T, np.float64))
        self._lock = threading.Lock()  # the tables grow while a batch is scored
        self._reset()

    def _reset(self) -> None:
        # Room for the words the table holds before it starts over, and for the batch that
        # crosses that bound: no copying as it fills.
        capacity = _CACHE_LIMIT + _CACHE_LIMIT // 4
        self.words = WordTable(self.vectorizer, capacity=capacity,
                               char_products=self.char_products)
        self._products = np.zeros((capacity, self.n_outputs))

    def __call__(self, texts: Sequence[str | Sequence[str]]) -> np.ndarray:
        """Shape (n_texts, n_outputs): each text's features times the weights.

        A text is a normalised string or its list of normalised words."""
        words = [text.split() if isinstance(text, str) else text for text in texts]
        with self._lock:
            pieces = self._pieces(lambda table: table.pieces([[w] for w in words]))
            return self._products_of(pieces, len(words))[0]

    def whole_and_strongest(self, texts: Sequence[Sequence[Sequence[str]]], *,
                            min_words: int = 3) -> tuple[np.ndarray, np.ndarray]:
        """For texts given as their sentences (lists of normalised words): each whole text's
        product, and the largest product among its sentences of ``min_words`` or more (the
        whole text's own where fewer than two sentences qualify). One pass serves both."""
        return self._whole_and_strongest(
            lambda table: table.pieces(texts, min_words=min_words), len(texts))

    def whole_and_strongest_of_texts(self, texts: Sequence[str], *, min_words: int = 3
                                     ) -> tuple[np.ndarray, np.ndarray]:
        """``whole_and_strongest`` of raw texts' normalised sentences
        (``WordTable.pieces_of_texts``): what scoring calls."""
        if not all(isinstance(text, str) for text in texts):
            # Before the tables are touched: a failure inside would start them over.
            raise TypeError("texts must be strings")
        return self._whole_and_strongest(
            lambda table: table.pieces_of_texts(texts, min_words=min_words), len(texts))

    def _whole_and_strongest(self, cut: Callable[[WordTable], Pieces], n_texts: int
                             ) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            pieces = self._pieces(cut)
            whole, parts = self._products_of(pieces, n_texts)
        strongest = whole.copy()
        if len(pieces.owners):
            strongest[pieces.owners] = -np.inf  # an owner repeated: the same value again
            np.maximum.at(strongest, pieces.owners, parts)
        return whole, strongest

    def _pieces(self, cut: Callable[[WordTable], Pieces]) -> Pieces:
        """``cut(self.words)``, and the products of the rows it added."""
        if len(self.words) > _CACHE_LIMIT or len(self.words.raw_rows) > _CACHE_LIMIT:
            self._reset()
        try:
            pieces = cut(self.words)
            self._store_products()
            return pieces
        except BaseException:
            # A failure half-way (memory, say) may leave words indexed without their rows:
            # start over rather than mis-score them later.
            self._reset()
            raise

    def _store_products(self) -> None:
        if not self.words.has_new_rows():
            return
        first = self.words.n_taken
        new = self.words.take_new_products()
        if len(new):
            needed = first + len(new)
            if needed > len(self._products):
                grown = np.zeros((max(needed, 2 * len(self._products)), self.n_outputs))
                grown[:first] = self._products[:first]
                self._products = grown
            self._products[first:needed] = new

    def _products_of(self, pieces: Pieces, n_texts: int) -> tuple[np.ndarray, np.ndarray]:
        """Each group's product: (whole texts, sentences scored on their own)."""
        out = np.zeros((pieces.n_groups, self.n_outputs))
        word_sum = _sum_by_group(self.word_table, pieces.feature_ids, pieces.feature_groups,
                                 pieces.n_groups)
        word_norm = np.sqrt(np.bincount(pieces.feature_groups,
                                        self.word_idf_squared[pieces.feature_ids],
                                        minlength=pieces.n_groups))
        np.divide(word_sum, word_norm[:, None], out=out, where=word_norm[:, None] > 0)
        char_sum = _sum_by_group(self._products, pieces.rows, pieces.row_groups, pieces.n_groups)
        char_norm = np.sqrt(np.bincount(pieces.row_groups, self.words.sqnorms[pieces.rows],
                                        minlength=pieces.n_groups))
        has_chars = char_norm > 0
        out[has_chars] += char_sum[has_chars] / char_norm[has_chars, None]
        return out[:n_texts], out[n_texts:]


def _sum_by_group(table: np.ndarray, rows: np.ndarray, groups: np.ndarray,
                  n_groups: int) -> np.ndarray:
    """Sums of ``table[rows]`` by ``groups`` (sorted), shape (n_groups, n_columns). A batch
    takes a sparse product, which never builds the gathered rows; a comment or two takes a
    gather, which skips the sparse matrix's set-up (tens of microseconds)."""
    if len(rows) > 2048:
        selection = sparse.csr_matrix((np.ones(len(rows), table.dtype), rows,
                                       _pointers(groups, n_groups)),
                                      shape=(n_groups, table.shape[0]))
        return selection @ table
    out = np.zeros((n_groups, table.shape[1]))
    if len(rows):
        starts = np.flatnonzero(np.concatenate([[True], groups[1:] != groups[:-1]]))
        out[groups[starts]] = np.add.reduceat(table[rows], starts)
    return out

"""Word and character n-gram TF-IDF features, designed so that scoring is a few lookups.

Two parts, each l2-normalised, over the *distinct* words of a normalised text:

- word part: the word unigrams and bigrams present (binary term frequency) times their idf;
- char part: for each distinct word, its in-word character n-gram counts (``char_wb``)
  times their idf, summed over words, divided by ``sqrt`` of the sum of each word's squared
  norm (the norm the sum would have if no two words shared an n-gram).

That definition makes a linear model over these features decompose exactly by word: a
word's effect on a label is its n-grams' weights, which can be computed once per distinct
word and cached. :class:`Projection` does that, so scoring costs a dictionary lookup per word
instead of rebuilding every character n-gram; ``transform`` builds the same features as a
sparse matrix for training, and a test checks that both agree. Counting each word once also
means a comment cannot dilute its abuse by repeating one harmless word.

Vocabulary and idf come from scikit-learn's ``TfidfVectorizer`` at ``fit``.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer

# Words, plus the "*" and "#" readers use to mask letters ("f*ck"), so a masked word stays
# one token.
WORD_TOKENS = r"(?u)[\w*#]{2,}|\b\w\b"
_TOKENS = re.compile(WORD_TOKENS)
_CACHE_LIMIT = 200_000


class CommentVectorizer(TransformerMixin, BaseEstimator):
    """Word n-gram and per-word character n-gram TF-IDF of normalised texts.

    Parameters
    ----------
    word_ngram_range, char_ngram_range : tuple of int
        N-gram ranges of the two parts.
    min_df : int
        Features seen in fewer training texts are dropped.
    max_word_features, max_char_features : int or None
        Keep only the most frequent features of each part.
    """

    def __init__(self, *, word_ngram_range: tuple[int, int] = (1, 2),
                 char_ngram_range: tuple[int, int] = (2, 5), min_df: int = 1,
                 max_word_features: int | None = None,
                 max_char_features: int | None = None) -> None:
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features

    def fit(self, X: Iterable[str], y=None) -> "CommentVectorizer":
        texts = list(X)
        words = TfidfVectorizer(lowercase=False, token_pattern=WORD_TOKENS,
                                ngram_range=self.word_ngram_range, min_df=self.min_df,
                                max_features=self.max_word_features, dtype=np.float32)
        chars = TfidfVectorizer(lowercase=False, analyzer="char_wb",
                                ngram_range=self.char_ngram_range, min_df=self.min_df,
                                max_features=self.max_char_features, dtype=np.float32)
        words.fit(texts)
        chars.fit(texts)
        self.word_vocabulary_ = dict(words.vocabulary_)
        self.char_vocabulary_ = dict(chars.vocabulary_)
        self.word_idf_ = words.idf_.astype(np.float32)
        self.char_idf_ = chars.idf_.astype(np.float32)
        self.n_word_features_ = len(self.word_vocabulary_)
        self.n_features_out_ = self.n_word_features_ + len(self.char_vocabulary_)
        return self

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_cache", None)  # rebuilt on demand; keeps the artifact small
        return state

    def transform(self, X: Iterable[str]) -> sparse.csr_matrix:
        """The feature matrix, shape (n_texts, n_word_features + n_char_features)."""
        rows_columns, rows_values = [], []
        for text in X:
            word_ids, words = self.analyse(text)
            word_values = self.word_idf_[word_ids]
            word_values = word_values / max(float(np.sqrt(np.dot(word_values, word_values))), 1e-12)
            entries = [self.word_entry(word) for word in words]
            char_ids = np.concatenate([e.char_ids for e in entries]) if entries else np.empty(0, np.int32)
            char_values = np.concatenate([e.char_values for e in entries]) if entries else np.empty(0, np.float32)
            char_norm = np.sqrt(sum(e.char_sqnorm for e in entries))
            if char_norm > 0:
                char_values = char_values / char_norm
            rows_columns.append(np.concatenate([word_ids, char_ids + self.n_word_features_]))
            rows_values.append(np.concatenate([word_values, char_values]).astype(np.float32))
        lengths = [len(c) for c in rows_columns]
        matrix = sparse.csr_matrix(
            (np.concatenate(rows_values) if rows_values else np.empty(0, np.float32),
             np.concatenate(rows_columns) if rows_columns else np.empty(0, np.int32),
             np.concatenate([[0], np.cumsum(lengths)])),
            shape=(len(lengths), self.n_features_out_))
        matrix.sum_duplicates()  # the same n-gram in two words
        return matrix

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        names = np.empty(self.n_features_out_, dtype=object)
        for name, index in self.word_vocabulary_.items():
            names[index] = f"word:{name}"
        for name, index in self.char_vocabulary_.items():
            names[self.n_word_features_ + index] = f"char:{name}"
        return names

    # -- the pieces a text is made of -------------------------------------------------------

    def analyse(self, text: str) -> tuple[np.ndarray, list[str]]:
        """The distinct word-part feature ids of ``text``, and its distinct words."""
        words = list(dict.fromkeys(text.split()))
        vocabulary = self.word_vocabulary_
        low, high = self.word_ngram_range
        ids: set[int] = set()
        if low == 1:
            for word in words:
                ids.update(self.word_entry(word).unigram_ids)
        if high >= 2:
            tokens = [t for word in text.split() for t in self.word_entry(word).tokens]
            for n in range(max(low, 2), high + 1):
                for gram in map(" ".join, zip(*(tokens[k:] for k in range(n)))):
                    index = vocabulary.get(gram)
                    if index is not None:
                        ids.add(index)
        return np.fromiter(sorted(ids), dtype=np.int32, count=len(ids)), words

    def word_entry(self, word: str) -> "WordEntry":
        """One whitespace word's tokens, unigram ids and weighted char n-grams (cached)."""
        cache = self.__dict__.setdefault("_cache", {})
        entry = cache.get(word)
        if entry is None:
            if len(cache) > _CACHE_LIMIT:  # hostile input must not grow it without bound
                cache.clear()
            entry = cache[word] = self._new_entry(word)
        return entry

    def _new_entry(self, word: str) -> "WordEntry":
        tokens = tuple(_TOKENS.findall(word))
        vocabulary = self.word_vocabulary_
        unigram_ids = tuple({vocabulary[t] for t in tokens if t in vocabulary})
        chars = self.char_vocabulary_
        low, high = self.char_ngram_range
        padded = f" {word} "
        counts: dict[int, int] = {}
        for n in range(low, high + 1):
            for start in range(max(len(padded) - n + 1, 1)):
                index = chars.get(padded[start:start + n])
                if index is not None:
                    counts[index] = counts.get(index, 0) + 1
            if len(padded) <= n:  # a short word is counted once, at its full length
                break
        char_ids = np.fromiter(counts, dtype=np.int32, count=len(counts))
        char_values = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        char_values *= self.char_idf_[char_ids]
        return WordEntry(tokens, unigram_ids, char_ids, char_values,
                         float(np.dot(char_values, char_values)))


class WordEntry:
    """What one whitespace word contributes to the features of any text holding it."""

    __slots__ = ("tokens", "unigram_ids", "char_ids", "char_values", "char_sqnorm")

    def __init__(self, tokens: tuple[str, ...], unigram_ids: tuple[int, ...],
                 char_ids: np.ndarray, char_values: np.ndarray, char_sqnorm: float) -> None:
        self.tokens = tokens
        self.unigram_ids = unigram_ids
        self.char_ids = char_ids
        self.char_values = char_values
        self.char_sqnorm = char_sqnorm


class Projection:
    """A linear map (``weights``: n_outputs x n_features) applied to texts word by word.

    Equal to ``vectorizer.transform(texts) @ weights.T`` without building the features:
    each distinct word's char-part product is computed once and cached.
    """

    def __init__(self, vectorizer: CommentVectorizer, weights: np.ndarray) -> None:
        self.vectorizer = vectorizer
        split = vectorizer.n_word_features_
        idf = vectorizer.word_idf_
        self.word_weights = np.ascontiguousarray((weights[:, :split] * idf).T, dtype=np.float64)
        self.word_idf_squared = idf.astype(np.float64) ** 2
        self.char_weights = np.ascontiguousarray(weights[:, split:].T, dtype=np.float64)
        self.n_outputs = weights.shape[0]
        self._words: dict[str, tuple[np.ndarray, float]] = {}

    def word_contribution(self, word: str) -> tuple[np.ndarray, float]:
        """A word's un-normalised char-part product and its char-part squared norm."""
        cached = self._words.get(word)
        if cached is None:
            if len(self._words) > _CACHE_LIMIT:
                self._words.clear()
            entry = self.vectorizer.word_entry(word)
            product = entry.char_values.astype(np.float64) @ self.char_weights[entry.char_ids]
            cached = self._words[word] = (product, entry.char_sqnorm)
        return cached

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Shape (n_texts, n_outputs): each text's features times the weights."""
        out = np.zeros((len(texts), self.n_outputs))
        analyse = self.vectorizer.analyse
        for row, text in enumerate(texts):
            word_ids, words = analyse(text)
            if len(word_ids):
                word_norm = np.sqrt(self.word_idf_squared[word_ids].sum())
                out[row] += self.word_weights[word_ids].sum(axis=0) / word_norm
            if words:
                contributions = [self.word_contribution(word) for word in words]
                char_norm = np.sqrt(sum(sq for _, sq in contributions))
                if char_norm > 0:
                    out[row] += np.sum([p for p, _ in contributions], axis=0) / char_norm
        return out

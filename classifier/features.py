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
            ids, words = self.analyse(text)
            word_ids = np.asarray(ids, dtype=np.int32)
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

    def analyse(self, text: str | Sequence[str]) -> tuple[list[int], list[str]]:
        """The distinct word-part feature ids of a text (or of its list of normalised words),
        and its distinct words."""
        sequence = text.split() if isinstance(text, str) else text
        return self.analyse_sentences([sequence])[0]

    def analyse_sentences(self, sentences: Sequence[Sequence[str]], *,
                          min_words: int | None = None) -> list[tuple[list[int], list[str]]]:
        """(feature ids, distinct words) of a text given as sentences of normalised words:
        first the whole text, then, when ``min_words`` is given and at least two sentences
        have that many words, each such sentence on its own (n-grams that cross a sentence
        boundary belong to the whole text only). One pass over the words: this is the
        scoring hot path."""
        cache = self.__dict__.get("_cache")
        if cache is None or len(cache) > _CACHE_LIMIT:  # bounded against hostile input
            cache = self.__dict__["_cache"] = {}
        low, high = self.word_ngram_range
        qualifying = [min_words is not None and len(s) >= min_words for s in sentences]
        split = sum(qualifying) >= 2
        whole_ids: set[int] = set()
        whole_words: dict[str, None] = {}
        part_ids: list[set[int]] = [set() for _ in sentences] if split else []
        part_words: list[dict[str, None]] = [{} for _ in sentences] if split else []
        tokens: list[str] = []
        token_sentence: list[int] = []
        for index, sentence in enumerate(sentences):
            track = split and qualifying[index]
            for word in sentence:
                entry = cache.get(word)
                if entry is None:
                    entry = cache[word] = self._new_entry(word)
                if word not in whole_words:
                    whole_words[word] = None
                    if low == 1:
                        whole_ids.update(entry.unigram_ids)
                if track and word not in part_words[index]:
                    part_words[index][word] = None
                    if low == 1:
                        part_ids[index].update(entry.unigram_ids)
                tokens.extend(entry.tokens)
                if split:
                    token_sentence.extend([index] * len(entry.tokens))
        vocabulary = self.word_vocabulary_
        for n in range(max(low, 2), high + 1):
            for start, gram in enumerate(map(" ".join, zip(*(tokens[k:] for k in range(n))))):
                gram_id = vocabulary.get(gram)
                if gram_id is None:
                    continue
                whole_ids.add(gram_id)
                if split:
                    first = token_sentence[start]
                    if qualifying[first] and first == token_sentence[start + n - 1]:
                        part_ids[first].add(gram_id)
        results = [(list(whole_ids), list(whole_words))]
        results += [(list(part_ids[i]), list(part_words[i]))
                    for i in range(len(sentences)) if split and qualifying[i]]
        return results

    def word_entry(self, word: str) -> "WordEntry":
        """One whitespace word's tokens, unigram ids and weighted char n-grams (cached)."""
        return self._entries([word])[word]

    def _entries(self, words: Sequence[str]) -> dict[str, "WordEntry"]:
        cache = self.__dict__.get("_cache")
        if cache is None or len(cache) > _CACHE_LIMIT:  # bounded against hostile input
            cache = self.__dict__["_cache"] = {}
        found = {}
        for word in words:
            entry = cache.get(word)
            if entry is None:
                entry = cache[word] = self._new_entry(word)
            found[word] = entry
        return found

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
    each distinct word's char-part product is computed once and kept in a table that grows
    as new words arrive (bounded), and a batch is summed with one ``np.add.reduceat``.
    """

    def __init__(self, vectorizer: CommentVectorizer, weights: np.ndarray) -> None:
        self.vectorizer = vectorizer
        split = vectorizer.n_word_features_
        idf = vectorizer.word_idf_.astype(np.float64)
        self.n_outputs = weights.shape[0]
        # Word part: one row per feature, weight times idf; the last row is zeros (padding).
        self.word_table = np.vstack([(weights[:, :split].astype(np.float64) * idf).T,
                                     np.zeros((1, self.n_outputs))])
        self.word_idf_squared = np.append(idf ** 2, 0.0)
        self.char_weights = np.ascontiguousarray(weights[:, split:].T, dtype=np.float64)
        self._reset()

    def _reset(self) -> None:
        self._rows: dict[str, int] = {}
        self._products = np.zeros((1024, self.n_outputs))
        self._sqnorms = np.zeros(1024)

    def _row(self, word: str) -> int:
        row = self._rows.get(word)
        if row is None:
            if len(self._rows) >= _CACHE_LIMIT:
                self._reset()
            row = len(self._rows)
            if row == len(self._sqnorms):
                self._products = np.vstack([self._products, np.zeros_like(self._products)])
                self._sqnorms = np.concatenate([self._sqnorms, np.zeros_like(self._sqnorms)])
            entry = self.vectorizer.word_entry(word)
            self._products[row] = entry.char_values.astype(np.float64) @ self.char_weights[entry.char_ids]
            self._sqnorms[row] = entry.char_sqnorm
            self._rows[word] = row
        return row

    def word_contribution(self, word: str) -> tuple[np.ndarray, float]:
        """A word's un-normalised char-part product and its char-part squared norm."""
        row = self._row(word)
        return self._products[row], float(self._sqnorms[row])

    def __call__(self, texts: Sequence[str | Sequence[str]]) -> np.ndarray:
        """Shape (n_texts, n_outputs): each text's features times the weights.

        A text is a normalised string or its list of normalised words."""
        return self._aggregate([self.vectorizer.analyse(text) for text in texts])

    def whole_and_strongest(self, texts: Sequence[Sequence[Sequence[str]]], *,
                            min_words: int = 3) -> tuple[np.ndarray, np.ndarray]:
        """For texts given as their sentences (lists of normalised words): each whole text's
        product, and the largest product among its sentences of ``min_words`` or more (the
        whole text's own where fewer than two sentences qualify). One pass over the words
        serves both."""
        wholes, parts, owners = [], [], []
        for owner, sentences in enumerate(texts):
            whole, *sentence_parts = self.vectorizer.analyse_sentences(sentences,
                                                                       min_words=min_words)
            wholes.append(whole)
            parts.extend(sentence_parts)
            owners.extend([owner] * len(sentence_parts))
        whole = self._aggregate(wholes)
        strongest = whole.copy()
        if parts:
            values = self._aggregate(parts)
            strongest[np.unique(owners)] = -np.inf
            np.maximum.at(strongest, np.asarray(owners), values)
        return whole, strongest

    def _aggregate(self, documents: Sequence[tuple[list[int], list[str]]]) -> np.ndarray:
        """Products of documents given as (word-part feature ids, distinct words)."""
        padding = len(self.word_idf_squared) - 1
        word_ids: list[int] = []
        word_starts: list[int] = []
        rows: list[int] = []
        row_starts: list[int] = []
        known, row_of = self._rows, self._row
        for ids, words in documents:
            word_starts.append(len(word_ids))
            word_ids.extend(ids or (padding,))
            row_starts.append(len(rows))
            for word in words:
                row = known.get(word)
                rows.append(row_of(word) if row is None else row)
            known = self._rows  # a new table if the cache was reset
        out = np.zeros((len(documents), self.n_outputs))
        if not documents:
            return out
        ids = np.asarray(word_ids)
        word_sum = np.add.reduceat(self.word_table[ids], word_starts)
        word_norm = np.sqrt(np.add.reduceat(self.word_idf_squared[ids], word_starts))
        np.divide(word_sum, word_norm[:, None], out=out, where=word_norm[:, None] > 0)
        if rows:
            # Documents without words get an empty slice; reduceat needs in-range starts.
            index = np.asarray(rows)
            starts = np.minimum(row_starts, len(index) - 1)
            char_sum = np.add.reduceat(self._products[index], starts)
            char_norm = np.sqrt(np.add.reduceat(self._sqnorms[index], starts))
            counts = np.diff(np.append(row_starts, len(index)))
            has_words = (counts > 0) & (char_norm > 0)
            out[has_words] += char_sum[has_words] / char_norm[has_words, None]
        return out

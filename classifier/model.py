"""The comment classifier: word and character n-grams, one calibrated linear head per label.

Why linear: it is fast (one sparse matrix product scores every label at once), small, and
explains itself, since each word's contribution to a label is its features times the weights.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Sequence

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, clone
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from classifier.features import CommentVectorizer, Projection
from classifier.normalize import (
    ends_in_character_reference,
    normalize,
    normalized_sentences,
    normalized_words,
)
from classifier.shared import HARMFUL_LABELS, LABELS, CommentScore, Span, harmful_truth

TRAFFIC_PREVALENCE: dict[str, float] = {
    "toxicity": 0.08, "severe_toxicity": 0.01, "insult": 0.04, "threat": 0.005,
    "identity_attack": 0.01, "obscene": 0.04, "spam": 0.03, "any": 0.12,
}
"""How common each label is in a news site's live comments (about the rates of a random
draw of real comments, such as the Jigsaw sample). Training sets are far richer in abuse;
calibration is shifted from the training rate to these, so that a score is a probability
for the traffic the model will actually see."""

# Spans for explanations: a spelled-out link, a phone number or a run of spaced-out single
# letters is one span; anything else between white space is one span, minus the
# punctuation around it.
_EXPLAIN_TOKENS = re.compile(
    r"\b[\w-]+ ?\(?\b[Dd][Oo][Tt]\b\)? ?[A-Za-z]{2,6}\b"  # "quickcash dot biz"
    r"|\+?\(?\d[\d ().-]{6,}\d"                             # "555 123 4567"
    r"|\b(?:\w {1,2}){2,}\w\b"                                # "f u c k"
    r"|\S+"
)
_BELOW_ONE = float(np.nextafter(1.0, 0.0))
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
_EDGE_PUNCTUATION = "\"'()[]{}<>.,;:?!…“”‘’«»"


class CommentClassifier(BaseEstimator):
    """Multi-label comment classifier with calibrated probabilities.

    One logistic-regression head per label plus one for "any label" (the probability that
    the comment should not be published), over shared word and character TF-IDF features
    of the normalised text. Each head's decision value is mapped to a probability by a
    sigmoid fitted on out-of-fold decision values (Platt scaling), then shifted from the
    label's rate in the training data to its rate in live traffic (``prevalence``), so 0.8
    means about 80% among real comments.

    Parameters
    ----------
    labels : sequence of str
        Names of the columns of ``y``.
    harmful_labels : sequence of str
        The labels the combined score counts (see :data:`HARMFUL_LABELS`).
    C : float
        Inverse regularisation strength of every head.
    word_ngram_range, char_ngram_range : tuple of int
        N-gram ranges of the word and character features.
    min_df : int
        Features seen in fewer training documents are dropped (2: a feature seen once
        teaches nothing, and dropping them halves the vocabulary's memory).
    calibration_folds : int
        Folds for the out-of-fold decision values the calibration is fitted on.
    prevalence : dict or None
        Expected share of each label (and "any") in live traffic; None keeps the training
        rates. Defaults to :data:`TRAFFIC_PREVALENCE`.
    random_state : int
        Seed for the calibration folds, so training is repeatable.
    n_jobs : int or None
        Threads that fit the heads' models side by side (liblinear releases the GIL): None
        is one per core up to four, -1 every core.

    Examples
    --------
    >>> model = CommentClassifier().fit(texts, y)          # doctest: +SKIP
    >>> model.predict_scores(["you absolute idiot"])[0].labels["insult"]  # doctest: +SKIP
    0.93
    """

    nb_scaling = False  # models pickled before the option existed were fitted without it

    def __init__(
        self,
        *,
        labels: Sequence[str] = LABELS,
        harmful_labels: Sequence[str] = HARMFUL_LABELS,
        C: float = 1.0,
        word_ngram_range: tuple[int, int] = (1, 2),
        char_ngram_range: tuple[int, int] = (2, 5),
        min_df: int = 2,
        calibration_folds: int = 3,
        nb_scaling: bool = True,
        prevalence: dict[str, float] | None = TRAFFIC_PREVALENCE,
        random_state: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.labels = labels
        self.harmful_labels = harmful_labels
        self.C = C
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.calibration_folds = calibration_folds
        self.nb_scaling = nb_scaling
        self.prevalence = prevalence
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- training -------------------------------------------------------------------------

    def fit(self, X: Sequence[str], y: np.ndarray, *,
            sample_weight: np.ndarray | None = None,
            groups: Sequence | np.ndarray | None = None,
            on_step: Callable[[str, float], None] | None = None) -> "CommentClassifier":
        """Fit the features and every head on texts ``X`` and label matrix ``y``.

        ``sample_weight`` (one per row, default 1) says how much each row counts: the
        training layer gives written examples less weight than real comments.

        ``y`` holds 1, 0, or -1 where a data set does not say (YouTube spam labels only
        spam): each head learns from the rows that know its label. The "any" head learns
        from rows with a harmful label (``harmful_labels``) 1, or with all of them known 0.

        ``groups`` (one per row, optional) names the family each row was written in: the
        calibration's folds keep a family together, so its out-of-fold values come from a
        model that never saw its siblings. Hand-written families are full of near-repeats;
        folds that split them gave probabilities too sure for real comments (ECE on a random
        draw of real comments 0.058 against 0.040 for the combined score).

        ``on_step(step, done)`` is called as each step starts, with the share of the work
        done so far: a training job shows it as progress, and may raise from it to stop.

        The heads' models are fitted side by side in ``n_jobs`` threads; each thread holds a
        copy of its rows' features while it fits.
        """
        step = on_step or (lambda name, done: None)
        y = np.asarray(y, dtype=np.int8)
        if y.shape != (len(X), len(self.labels)):
            raise ValueError(f"y must have shape ({len(X)}, {len(self.labels)}), got {y.shape}")
        group_of = np.asarray(groups) if groups is not None else None
        if group_of is not None:
            if group_of.shape != (len(X),):
                raise ValueError("groups must hold one value per text")
        weights = (np.ones(len(X)) if sample_weight is None
                   else np.asarray(sample_weight, dtype=np.float64))
        if weights.shape != (len(X),) or not np.all(np.isfinite(weights)) or (weights <= 0).any():
            raise ValueError("sample_weight must hold one positive number per text")
        step("normalising texts", 0.0)
        sentences = [normalized_sentences(t) for t in X]
        texts = [" ".join(word for sentence in s for word in sentence) for s in sentences]
        step("building the vocabulary", 0.05)
        self.vectorizer_ = CommentVectorizer(
            word_ngram_range=self.word_ngram_range, char_ngram_range=self.char_ngram_range,
            min_df=self.min_df).fit(texts)
        step("computing features", 0.2)
        owners, pieces = _sentences_to_score(sentences)
        del sentences  # the words' lists: more memory than the texts
        # transform's matrices, their indices sorted once (not in every row slice handed to
        # liblinear).
        features, piece_features = self.vectorizer_.training_matrices([texts, pieces])
        del texts, pieces
        segments = Segments(piece_features, np.asarray(owners, dtype=np.int64))
        del piece_features, owners
        targets = np.column_stack([y, harmful_truth(y, self.labels, self.harmful_labels)])
        self.links_ = self._links(y, targets[:, -1], weights)
        names = [*self.labels, "any"]
        heads = []
        # Every head's fits (its calibration folds and its final model) are independent jobs,
        # run side by side in threads (liblinear releases the GIL), in head order; each is
        # the same as it would be fitted alone. A head is finished as its jobs come back.
        threads = min(4, _CORES) if self.n_jobs is None else (
            _CORES if self.n_jobs == -1 else max(1, int(self.n_jobs)))
        with ThreadPoolExecutor(threads) as pool:
            try:
                plans: list[_Head | None] = []
                held_out_values: list[np.ndarray] = []
                for j, name in enumerate(names):
                    step(f"fitting the {name} head", 0.3 + 0.7 * j / len(names))
                    while len(plans) < min(j + 2, len(names)):  # the next head queued behind
                        k = len(plans)
                        plans.append(self._start_head(pool, features, segments,
                                                      np.flatnonzero(targets[:, k] >= 0),
                                                      targets[:, k], weights, group_of))
                    plan = plans[j]
                    assert plan is not None  # released only once finished, below
                    coef, intercept, (slope, offset), values = plan.finish(len(X))
                    shift = self._prior_shift(name, plan.target, plan.weights)
                    heads.append((coef, intercept, (slope, offset + shift)))
                    held_out_values.append(values)
                    plans[j] = None  # its weights are in `heads`; let the rest go
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)  # stopped: start nothing more
                raise
        self.coef_ = np.vstack([h[0] for h in heads]).astype(np.float32)
        self.intercept_ = np.array([h[1] for h in heads], dtype=np.float64)
        self.calibration_ = np.array([h[2] for h in heads], dtype=np.float64)
        self.labels_ = tuple(self.labels)
        step("calibrating the combined score", 0.99)
        self.combination_ = self._fit_combination(np.column_stack(held_out_values),
                                                  targets[:, -1], weights)
        step("fitted", 1.0)
        return self

    def _fit_combination(self, values: np.ndarray, any_target: np.ndarray,
                         weights: np.ndarray) -> tuple[float, float]:
        """Platt scaling of the noisy-or of every head's probability, fitted on held-out
        decision values against "any label" truth, then shifted to live traffic's rate.

        Why noisy-or: every label is a reason not to publish, and two heads that each doubt
        a comment say more than either; on real comments it ranked better than the largest
        probability or the "any label" head alone. Why recalibrate: the heads overlap
        (an insult is also toxic), so the noisy-or overstates; the sigmoid maps it back to
        a probability, so the thresholds keep their meaning. Rows count with their weights
        here as in the heads' calibrations (the naive-Bayes ratios count them evenly: weighted,
        they measured worse)."""
        known = any_target >= 0
        target = any_target[known]
        if len(target) == 0 or target.min() == target.max():
            return 1.0, 0.0
        logits = values * self.calibration_[:, 0] + self.calibration_[:, 1]
        z = _noisy_or_logit(logits[known], self.links_)
        platt = LogisticRegression(C=1e4).fit(z.reshape(-1, 1), target,
                                              sample_weight=weights[known])
        return (float(platt.coef_[0, 0]),
                float(platt.intercept_[0]) + self._prior_shift("any", target, weights[known]))

    def _links(self, y: np.ndarray, harmful: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """How strongly each head's label implies harm, for the noisy-or: 1 for the harmful
        labels and "any"; for another label (obscene), the (weighted) share of harmful rows
        among the rows that have it, at most 0.99. Swearing raises the combined score only
        as far as swearing goes with harm in the training data."""
        links = np.ones(len(self.labels) + 1)
        for j, label in enumerate(self.labels):
            if label in self.harmful_labels:
                continue
            rows = (y[:, j] == 1) & (harmful >= 0)
            share = float(np.average(harmful[rows], weights=weights[rows])) if rows.any() else 0.0
            links[j] = min(share, 0.99)
        return links

    def _prior_shift(self, name: str, target: np.ndarray, weights: np.ndarray) -> float:
        """Logit shift from the (weighted) training rate of a head to its rate in live
        traffic."""
        if not self.prevalence or name not in self.prevalence or len(target) == 0:
            return 0.0
        trained = min(max(float(np.average(target, weights=weights)), 1e-4), 1 - 1e-4)
        live = self.prevalence[name]
        return float(np.log(live / (1 - live)) - np.log(trained / (1 - trained)))

    def _start_head(self, pool: ThreadPoolExecutor, features: sparse.csr_matrix,
                    segments: "Segments", rows: np.ndarray, column: np.ndarray,
                    weights: np.ndarray, groups: np.ndarray | None = None) -> "_Head":
        """Submit the fits of the head learning ``column`` on ``rows`` (see :class:`_Head`)."""
        target = column[rows]
        positives = int(target.sum())
        if len(target) == 0 or positives == 0 or positives == len(target):
            return _Head(features.shape[1], rows, target, weights[rows], None, [], None)
        # liblinear's dual solver minimises the same objective as its primal one (the
        # intercept penalised alike) and is several times faster with far more features
        # than rows, as here; seeded, since it visits the rows in a random order.
        head = LogisticRegression(C=self.C, class_weight="balanced", solver="liblinear",
                                  dual=True, max_iter=1000, random_state=self.random_state)
        final = pool.submit(_fit_rows, head, features, rows, target, weights[rows],
                            self.nb_scaling)
        folds = min(self.calibration_folds, positives, len(target) - positives)
        fold_jobs = []
        if folds >= 2 and groups is not None and len(set(groups[rows].tolist())) >= folds:
            cv = StratifiedGroupKFold(folds, shuffle=True, random_state=self.random_state)
            splits = list(cv.split(rows, target, groups[rows]))
        elif folds >= 2:
            cv = StratifiedKFold(folds, shuffle=True, random_state=self.random_state)
            splits = list(cv.split(rows, target))
        if folds >= 2:
            # The fold models only give the calibration its out-of-fold decision values: a
            # looser tolerance moves those by 0.002 at most (the primal solver used before
            # stopped as far from the optimum), nothing to a two-parameter sigmoid fitted on
            # thousands of them, and saves a quarter to a third of their time.
            fold_head = clone(head).set_params(tol=_FOLD_TOL)
            for train, test in splits:
                fold_jobs.append((test, pool.submit(
                    _held_out, fold_head, features, segments, rows[train], target[train],
                    weights[rows[train]], self.nb_scaling, rows[test])))
        return _Head(features.shape[1], rows, target, weights[rows], final, fold_jobs, segments,
                     features)

    # -- scoring --------------------------------------------------------------------------

    def transform(self, X: Iterable[str]) -> sparse.csr_matrix:
        """The TF-IDF features of the normalised texts (for training and analysis)."""
        return self.vectorizer_.transform([normalize(t) for t in X])

    def decision_function(self, X: Iterable[str]) -> np.ndarray:
        """Uncalibrated decision values, shape (n_texts, n_labels + 1).

        The mean of the whole text's value and its strongest sentence's: one abusive
        sentence in a long, polite comment must not be averaged away.
        """
        whole, strongest = self._projection().whole_and_strongest_of_texts(
            list(X), min_words=MIN_SENTENCE_WORDS)
        return (whole + strongest) / 2 + self.intercept_

    def _project(self, texts: Sequence[str]) -> np.ndarray:
        """Each whole text's features times the weights, word by word (no intercept)."""
        return self._projection()([normalized_words(t) for t in texts])

    def _projection(self) -> Projection:
        projection = self.__dict__.get("_projection_cache")
        if projection is None:
            projection = self.__dict__["_projection_cache"] = Projection(self.vectorizer_,
                                                                         self.coef_)
        return projection

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_projection_cache", None)  # rebuilt after loading
        return state

    def warm_up(self) -> "CommentClassifier":
        """Fill the scoring caches with every word of the vocabulary, so that the first
        comments a freshly loaded model sees score as fast as later ones (about a second)."""
        words = [w for w in self.vectorizer_.word_vocabulary_ if " " not in w]
        self.decision_function([" ".join(words[i:i + 500]) for i in range(0, len(words), 500)])
        return self

    def predict_proba(self, X: Iterable[str]) -> np.ndarray:
        """Calibrated probabilities, shape (n_texts, n_labels + 1); the last column is the
        score: the probability that the comment has any label, from every head's
        probability (their noisy-or, recalibrated: see ``_fit_combination``)."""
        logits = self.decision_function(X) * self.calibration_[:, 0] + self.calibration_[:, 1]
        proba = _sigmoid(logits)
        combination = self.__dict__.get("combination_")
        if combination is None:  # a model trained before the combined score was calibrated
            proba[:, -1] = proba.max(axis=1)
        else:
            slope, offset = combination
            # Models trained before the links counted every head fully.
            links = self.__dict__.get("links_", np.ones(logits.shape[1]))
            proba[:, -1] = _sigmoid(slope * _noisy_or_logit(logits, links) + offset)
        # float64's sigmoid rounds to 1.0 from a logit of 37; no comment is certain, and
        # "reject from 1" must stay a rule that never fires. The largest float below 1 ties
        # only such texts (none of Jigsaw's 5,400 on the combined score).
        return np.minimum(proba, _BELOW_ONE)

    def known_word_share(self, text: str) -> tuple[float, int]:
        """Share of ``text``'s words (letters only, two or more) that the model has seen,
        and how many such words there are: a low share means a language it never learned."""
        vectorizer = self.vectorizer_
        words = [t for w in normalize(text).split() for t in vectorizer.tokens(w)
                 if len(t) > 1 and t.isalpha()]
        if not words:
            return 1.0, 0
        known = sum(1 for t in words if t in vectorizer.word_vocabulary_)
        return known / len(words), len(words)

    def predict_scores(self, X: Iterable[str]) -> list[CommentScore]:
        """Score each text: the combined ``score`` and one probability per label."""
        return [
            CommentScore(score=float(row[-1]),
                         labels={label: float(p) for label, p in zip(self.labels_, row)})
            for row in self.predict_proba(X)
        ]

    def explain(self, text: str, *, min_probability: float = 0.25,
                per_label: int = 5) -> list[Span]:
        """The words that drove each likely label's score, as character offsets into ``text``.

        Each feature of the text contributes its TF-IDF value times its weight to a label's
        logit; a word is credited with the features it produces (its word and its character
        n-grams), shared equally with other words producing the same feature. For every
        label whose probability reaches ``min_probability`` (or, when the combined score
        reaches it but no single label does, for the likeliest label), up to ``per_label``
        words that push it up the most (at least a third as much as the strongest) are
        returned, strongest first. Function words are never highlighted.
        """
        return self.explain_many([text], min_probability=min_probability,
                                 per_label=per_label)[0]

    def explain_many(self, texts: Sequence[str], *, min_probability: float = 0.25,
                     per_label: int = 5) -> list[list[Span]]:
        """:meth:`explain` of each text, their features built in one batch (a queue page's
        rows: per text, the sparse matrices' set-up cost more than the arithmetic)."""
        # Function words ("you", "will") carry weight in the model but tell a moderator
        # nothing: they are never highlighted.
        tokens = [[(start, end) for start, end in _explain_tokens(text)
                   if text[start:end].lower() not in ENGLISH_STOP_WORDS] for text in texts]
        probabilities = self.predict_proba(texts) if texts else np.zeros((0, 0))
        likely_of = []
        for row in probabilities:
            likely = [j for j in range(len(self.labels_)) if row[j] >= min_probability]
            if not likely and row[-1] >= min_probability:
                likely = [int(np.argmax(row[:len(self.labels_)]))]
            likely_of.append(likely)
        chosen = [i for i, text in enumerate(texts) if tokens[i] and likely_of[i]]
        spans: list[list[Span]] = [[] for _ in texts]
        if not chosen:
            return spans
        documents = self.transform([texts[i] for i in chosen])
        pieces = self.vectorizer_.transform([normalize(texts[i][start:end])
                                             for i in chosen for start, end in tokens[i]])
        first = 0
        for row, i in enumerate(chosen):
            text, likely = texts[i], likely_of[i]
            document = documents[row]
            columns, values = document.indices, document.data
            produces = (pieces[first:first + len(tokens[i])][:, columns] != 0).astype(np.float32)
            first += len(tokens[i])
            producers = np.maximum(np.asarray(produces.sum(axis=0)).ravel(), 1.0)
            credit = produces.multiply(values / producers).tocsr()
            contributions = np.asarray(credit @ self.coef_[likely][:, columns].T)
            for k, j in enumerate(likely):
                column = contributions[:, k]
                strongest = column.max()
                for t in np.argsort(-column, kind="stable")[:per_label]:
                    if column[t] <= 0 or column[t] < strongest / 3:
                        break
                    start, end = tokens[i][t]
                    spans[i].append(Span(self.labels_[j], start, end, text[start:end],
                                         round(float(column[t]), 3)))
        return spans


MIN_SENTENCE_WORDS = 3


def _sentences_to_score(texts: Sequence[list[list[str]]]) -> tuple[list[int], list[str]]:
    """(owner, sentence) for the sentences of ``MIN_SENTENCE_WORDS`` or more words of every
    text that has at least two of them: the pieces scored besides the whole text."""
    owners, pieces = [], []
    for index, sentences in enumerate(texts):
        long_enough = [" ".join(s) for s in sentences if len(s) >= MIN_SENTENCE_WORDS]
        if len(long_enough) > 1:
            owners.extend([index] * len(long_enough))
            pieces.extend(long_enough)
    return owners, pieces


class Segments:
    """The training texts' sentences as features, to compute combined decision values."""

    def __init__(self, features: sparse.csr_matrix, owners: np.ndarray) -> None:
        self.features = features
        self.owners = owners

    def combined(self, head: LogisticRegression, features: sparse.csr_matrix,
                 rows: np.ndarray) -> np.ndarray:
        """(whole + strongest sentence) / 2 for training ``rows``, as ``decision_function``."""
        whole = head.decision_function(features[rows])
        strongest = whole.copy()
        position = {row: i for i, row in enumerate(rows.tolist())}
        mine = np.array([owner in position for owner in self.owners.tolist()], dtype=bool)
        if mine.any():
            local = np.array([position[o] for o in self.owners[mine].tolist()])
            values = head.decision_function(self.features[mine])
            strongest[np.unique(local)] = -np.inf
            np.maximum.at(strongest, local, values)
        return (whole + strongest) / 2


_CHUNK = 1 << 20
"""Feature values scaled at once (a temporary array of this many floats)."""
_ROWS_AT_ONCE = 5_000
"""Rows whose features are copied at once outside the fits."""

_FOLD_TOL = 3e-3
"""liblinear's tolerance for the calibration folds' models (the final models keep 1e-4)."""


def _fit_rows(head: LogisticRegression, features: sparse.csr_matrix, rows: np.ndarray,
              target: np.ndarray, weights: np.ndarray, nb_scaling: bool) -> LogisticRegression:
    """``head`` fitted on ``rows``; with ``nb_scaling``, on features scaled by their
    log-count ratios, folded back into the weights so it scores the unscaled features."""
    x = features[rows]  # a copy: scaled in place
    ratios = _log_count_ratios(x, target) if nb_scaling else None
    if ratios is not None:
        for start in range(0, x.nnz, _CHUNK):  # in slices: no second copy of the values
            x.data[start:start + _CHUNK] *= ratios[x.indices[start:start + _CHUNK]]
    fitted = clone(head).fit(x, target, sample_weight=weights)
    if ratios is not None:
        fitted.coef_ = fitted.coef_ * ratios
    return fitted


def _log_count_ratios(x: sparse.csr_matrix, target: np.ndarray) -> np.ndarray:
    """Per feature, log of its share of the positive rows' presences over its share of the
    negative rows' (add-one smoothed): the naive-Bayes weighting of NBSVM (Wang and Manning,
    2012). A feature that separates the classes is amplified before the regression
    regularises it; on public data this lifted ROC-AUC by about 0.01."""
    # Presences counted from the matrix's own arrays, a slice of rows at a time: a copy of
    # it would double the memory each fitting thread holds.
    n = x.shape[1]
    positive, negative = np.ones(n), np.ones(n)
    for first in range(0, x.shape[0], _ROWS_AT_ONCE):
        last = min(first + _ROWS_AT_ONCE, x.shape[0])
        start, end = x.indptr[first], x.indptr[last]
        is_positive = np.repeat(target[first:last] == 1, np.diff(x.indptr[first:last + 1]))
        columns = x.indices[start:end]
        positive += np.bincount(columns[is_positive], minlength=n)
        negative += np.bincount(columns[~is_positive], minlength=n)
    return np.log((positive / positive.sum()) / (negative / negative.sum())).astype(np.float32)


def _held_out(head: LogisticRegression, features: sparse.csr_matrix, segments: Segments,
              train: np.ndarray, target: np.ndarray, weights: np.ndarray, nb_scaling: bool,
              test: np.ndarray) -> np.ndarray:
    """Combined decision values of rows ``test`` by a model fitted on rows ``train``."""
    return segments.combined(_fit_rows(head, features, train, target, weights, nb_scaling),
                             features, test)


class _Head:
    """One head being fitted: its final model and calibration folds, submitted to a pool.

    ``finish`` waits for them and returns (weights, intercept, (slope, offset) of the
    calibration, a decision value per training row for the combined score's calibration).
    The calibration is fitted on out-of-fold *combined* decision values (whole text and
    strongest sentence), the values it will map at scoring time. A head with
    nothing to learn (no rows, or one class only) has a constant probability equal to the
    observed rate."""

    def __init__(self, n_features: int, rows: np.ndarray, target: np.ndarray,
                 weights: np.ndarray, final: Future | None,
                 folds: list[tuple[np.ndarray, Future]], segments: Segments | None,
                 features: sparse.csr_matrix | None = None) -> None:
        self.n_features, self.rows, self.target, self.weights = n_features, rows, target, weights
        self.final, self.folds = final, folds
        self.segments, self.features = segments, features

    def finish(self, n_rows: int) -> tuple[np.ndarray, float, tuple[float, float], np.ndarray]:
        """Also returns a decision value for each of the ``n_rows`` training rows, for the
        combined score's calibration: out-of-fold on this head's rows, the final model's on
        rows whose label it does not know."""
        values = np.zeros(n_rows)
        if self.final is None:
            positives, n = int(self.target.sum()), len(self.target)
            rate = min(max(positives / max(n, 1), 1e-4), 1 - 1e-4)
            return np.zeros(self.n_features), 0.0, (0.0, float(np.log(rate / (1 - rate)))), values
        head = self.final.result()
        if self.folds:
            held_out = np.zeros(len(self.rows))
            for test, job in self.folds:
                held_out[test] = job.result()
        else:
            assert self.segments is not None  # a head with a final model has its segments
            held_out = self.segments.combined(head, self.features, self.rows)
        platt = LogisticRegression(C=1e4).fit(held_out.reshape(-1, 1), self.target,
                                              sample_weight=self.weights)
        calibration = (float(platt.coef_[0, 0]), float(platt.intercept_[0]))
        if not self.folds:
            # Too few examples of one class for folds: these values are in-sample, and would
            # make the combined score trust this head more than it deserves. Left at 0.
            return head.coef_.ravel(), float(head.intercept_[0]), calibration, values
        values[self.rows] = held_out
        unknown = np.setdiff1d(np.arange(n_rows), self.rows)
        for start in range(0, len(unknown), _ROWS_AT_ONCE):  # a slice of rows at a time
            some = unknown[start:start + _ROWS_AT_ONCE]
            assert self.segments is not None
            values[some] = self.segments.combined(head, self.features, some)
        return head.coef_.ravel(), float(head.intercept_[0]), calibration, values


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _noisy_or_logit(logits: np.ndarray, links: np.ndarray | None = None) -> np.ndarray:
    """The logit of the chance that at least one head's label is there and means harm, were
    they independent, from the heads' logits (one row per text): a head's probability counts
    times its ``link`` (1 where its label is harm itself; see ``CommentClassifier._links``).

    Computed in logs: as probabilities, every clearly abusive comment would round to 1 and
    tie with every other, and the ranking among them would be lost."""
    if links is None:
        links = np.ones(logits.shape[1])
    full = links >= 1.0
    # log P(no head right) = sum of log(1 - link * p): -softplus(logit) where the link is 1.
    none = -np.logaddexp(0.0, logits[:, full]).sum(axis=1)
    if not full.all():
        none = none + np.log1p(-links[~full] * _sigmoid(logits[:, ~full])).sum(axis=1)
    none = np.minimum(none, -1e-12)
    return np.log(-np.expm1(none)) - none


def _explain_tokens(text: str) -> list[tuple[int, int]]:
    tokens = []
    for match in _EXPLAIN_TOKENS.finditer(text):
        start, end = match.span()
        while start < end and text[start] in _EDGE_PUNCTUATION:
            start += 1
        word_end = end
        while end > start and text[end - 1] in _EDGE_PUNCTUATION:
            end -= 1
        # The ";" that closes "&#107;" belongs to the word: the first of the punctuation
        # stripped, as a reference holds none.
        if end < word_end and text[end] == ";" and ends_in_character_reference(
                text, start, end + 1):
            end += 1
        if start < end:
            tokens.append((start, end))
    return tokens

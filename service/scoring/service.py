"""Score texts with the active model and turn scores into decisions under a site's policy."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from classifier import (CommentClassifier, CommentScore, LoadedModel, ModelNotFound,
                        ModelRegistry, ModelRejected, Span)
from classifier.language import TRAINED_LANGUAGES, detect_language

from service.comments.models import CommentStatus
from service.errors import Unavailable
from service.sites.services import Thresholds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Assessment:
    """A scored text and the decision the policy takes on it."""

    score: float
    scores: dict[str, float]
    status: CommentStatus
    reasons: list[dict]
    language: str
    model_version: str


def stored_probability(value: float) -> float:
    """``value`` to four decimals, at most 0.9999: no comment is certain once rounded either,
    so a site's ``reject_at`` of 1.0 means "never reject automatically"."""
    return min(round(value, 4), 0.9999)


def stored_probabilities(values: np.ndarray) -> np.ndarray:
    """:func:`stored_probability` of every value: what the thresholds will be compared with."""
    return np.minimum(np.round(values, 4), 0.9999)


def as_stored(result: CommentScore) -> CommentScore:
    """``result`` with every probability as the service stores and decides on it."""
    return CommentScore(score=stored_probability(result.score),
                        labels={label: stored_probability(value)
                                for label, value in result.labels.items()})


def decide(result: CommentScore, thresholds: Thresholds, *,
           unsupported_language: bool = False) -> tuple[CommentStatus, list[dict]]:
    """Approve, hold or reject on the combined score; list the labels that crossed a threshold.

    A label "crossed" a threshold when its own probability reached it: those are the reasons
    a moderator and the host site see for a comment that is not approved, or "any" (the
    combined score) when doubts spread over several labels and none crossed alone. A comment in a language the model did not learn is
    never approved on its score alone: it waits for review.
    """
    if result.score >= thresholds.reject_at:
        status = CommentStatus.REJECTED
    elif result.score >= thresholds.approve_below:
        status = CommentStatus.PENDING_REVIEW
    else:
        status = CommentStatus.APPROVED
    reasons = []
    if status is not CommentStatus.APPROVED:
        for label, value in sorted(result.labels.items(), key=lambda item: -item[1]):
            for name, threshold in (("reject_at", thresholds.reject_at),
                                    ("approve_below", thresholds.approve_below)):
                if value >= threshold:
                    reasons.append({"label": label, "score": round(value, 4),
                                    "threshold": name, "value": threshold})
                    break
        if not reasons:  # doubts spread over several labels, none enough alone
            name, threshold = ((("reject_at", thresholds.reject_at))
                               if status is CommentStatus.REJECTED
                               else ("approve_below", thresholds.approve_below))
            reasons.append({"label": "any", "score": result.score, "threshold": name,
                            "value": threshold})
    if unsupported_language and status is CommentStatus.APPROVED:
        status = CommentStatus.PENDING_REVIEW
        reasons.append({"label": "language", "score": None,
                        "threshold": "unsupported_language", "value": None})
    return status, reasons


def comment_language(model: CommentClassifier, text: str) -> tuple[str, bool]:
    """The comment's language, and whether the model was not trained on it.

    CLD2's reliable guess decides; for text it cannot place (short, or mixed), a model
    that knows under 60% of four or more words has met a language it did not learn.
    """
    language, reliable = detect_language(text)
    if reliable:
        return language, language not in TRAINED_LANGUAGES
    share, words = model.known_word_share(text)
    return language, words >= 4 and share < 0.6


class ScoringService:
    """Holds the active model and swaps in a newly activated one within ``refresh_seconds``.

    Every web worker has its own instance; they all follow the registry's ACTIVE pointer, so
    activating a version reaches every worker without a restart.
    """

    def __init__(self, registry: ModelRegistry, *, refresh_seconds: float = 2.0,
                 warm_up: bool = True) -> None:
        self.registry = registry
        self.refresh_seconds = refresh_seconds
        self.warm_up = warm_up
        self._loaded: LoadedModel | None = None
        self._marker: float | None = None  # ACTIVE pointer last acted on, loaded or refused
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def current(self, *, fresh: bool = False) -> LoadedModel:
        """The active model; raises :class:`Unavailable` when there is none that can be trusted.

        ``fresh`` looks at the ACTIVE pointer now rather than within ``refresh_seconds``:
        for work that must use the version just promoted.
        """
        if fresh:
            with self._lock:
                self._refresh(time.monotonic())
        now = time.monotonic()
        if self._loaded is None:
            with self._lock:  # nothing to serve yet: wait for the first load
                if self._loaded is None:
                    self._refresh(now)
        elif now - self._checked_at >= self.refresh_seconds and self._lock.acquire(False):
            # One thread looks for (and loads) a newly activated version; the others go on
            # scoring with the model they have, so a promotion never stalls a request.
            try:
                self._refresh(now)
            finally:
                self._lock.release()
        if self._loaded is None:
            raise Unavailable("no classifier model is active yet "
                              "(train one with: flask --app wsgi model train)")
        return self._loaded

    def _refresh(self, now: float) -> None:
        self._checked_at = now
        marker = self.registry.active_marker()
        if marker == self._marker:
            return
        try:
            loaded = self.registry.load_active()
        except ModelNotFound:
            return
        except ModelRejected as error:
            # Keep serving the model we have, and do not re-check the same refused artifact
            # every few seconds; an operator has to act.
            self._marker = marker
            log.error("active model refused: %s", error)
            return
        if self.warm_up:
            loaded.model.warm_up()
        self._loaded, self._marker = loaded, marker
        log.info("scoring with model %s", loaded.version)
        if "combination_" not in vars(loaded.model):
            log.warning("model %s predates the calibrated combined score (its score is the "
                        "largest label probability), while the default thresholds are set "
                        "for the new one: train a new model (flask --app wsgi model train)",
                        loaded.version)

    @property
    def ready(self) -> bool:
        try:
            self.current()
        except Unavailable:
            return False
        return True

    def assess(self, texts: Sequence[str], thresholds: Thresholds) -> list[Assessment]:
        """Score ``texts`` with the active model and decide each under ``thresholds``."""
        return self.assess_with(self.current(), texts, thresholds)

    def preview(self, text: str, thresholds: Thresholds) -> tuple[Assessment, list[Span]]:
        """Assess one text and explain it, both by the same model version."""
        loaded = self.current()
        return (self.assess_with(loaded, [text], thresholds)[0],
                loaded.model.explain(text, min_probability=thresholds.approve_below))

    @staticmethod
    def assess_with(loaded: LoadedModel, texts: Sequence[str],
                    thresholds: Thresholds) -> list[Assessment]:
        """Score ``texts`` with ``loaded`` (a given version) and decide each."""
        assessments = []
        for text, result in zip(texts, loaded.model.score(texts)):
            # Decide on the rounded values, so the stored score explains the decision.
            result = as_stored(result)
            language, unsupported = comment_language(loaded.model, text)
            status, reasons = decide(result, thresholds, unsupported_language=unsupported)
            assessments.append(Assessment(score=result.score, scores=result.labels,
                                          status=status, reasons=reasons, language=language,
                                          model_version=loaded.version))
        return assessments

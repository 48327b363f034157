"""Score texts with the active model and turn scores into decisions under a site's policy."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Sequence

from classifier import CommentScore, LoadedModel, ModelNotFound, ModelRegistry, ModelRejected, Span
from classifier.language import TRAINED_LANGUAGES, detect_language
from classifier.policy import HOLD, REJECT, Policy
from classifier.shared import Classifier
from service.comments.models import CommentStatus
from service.errors import Unavailable

log = logging.getLogger(__name__)

EXPLAIN_FROM = 0.25
"""Labels at least this likely are explained (their words highlighted), whatever the site's
policy does with them: a moderator reading a held comment wants to see every doubt."""


@dataclass(frozen=True)
class Assessment:
    """A scored text and the decision the policy takes on it."""

    score: float
    scores: dict[str, float]
    status: CommentStatus
    reasons: list[dict]
    language: str
    model_version: str


def decide(result: CommentScore, policy: Policy, *,
           unsupported_language: bool = False) -> tuple[CommentStatus, list[dict]]:
    """Publish, hold or reject under the site's ``policy``, with every rule that fired.

    The reasons are what a moderator and the host site see: each names the label (or
    ``any``, the combined score), its probability, the action and the threshold it reached.
    A comment in a language the model did not learn is never published on its score alone:
    it waits for review.
    """
    action, reasons = policy.decide(result.labels, result.score)
    status = _STATUS_OF[action]
    if unsupported_language and status is CommentStatus.APPROVED:
        status = CommentStatus.PENDING_REVIEW
        reasons.append({"label": "language", "score": None, "action": HOLD,
                        "threshold": "unsupported_language", "value": None})
    return status, reasons


_STATUS_OF = {None: CommentStatus.APPROVED, HOLD: CommentStatus.PENDING_REVIEW,
              REJECT: CommentStatus.REJECTED}


def comment_language(model: Classifier, text: str) -> tuple[str, bool]:
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
                        "largest label probability), while the decision presets are set "
                        "for the new one: train a new model (flask --app wsgi model train)",
                        loaded.version)

    @property
    def ready(self) -> bool:
        try:
            self.current()
        except Unavailable:
            return False
        return True

    def assess(self, texts: Sequence[str], policy: Policy) -> list[Assessment]:
        """Score ``texts`` with the active model and decide each under ``policy``."""
        return self.assess_with(self.current(), texts, policy)

    def preview(self, text: str, policy: Policy) -> tuple[Assessment, list[Span]]:
        """Assess one text and explain it, both by the same model version."""
        assessments, spans = self.explained(self.current(), [text], policy)
        return assessments[0], spans[0]

    def explained(self, loaded: LoadedModel, texts: Sequence[str],
                  policy: Policy) -> tuple[list[Assessment], list[list[Span]]]:
        """Assess ``texts`` and explain each, all by ``loaded``."""
        return (self.assess_with(loaded, texts, policy),
                [loaded.model.explain(text, min_probability=EXPLAIN_FROM) for text in texts])

    @staticmethod
    def assess_with(loaded: LoadedModel, texts: Sequence[str],
                    policy: Policy) -> list[Assessment]:
        """Score ``texts`` with ``loaded`` (a given version) and decide each."""
        assessments = []
        for text, result in zip(texts, loaded.model.predict_scores(texts)):
            language, unsupported = comment_language(loaded.model, text)
            status, reasons = decide(result, policy, unsupported_language=unsupported)
            assessments.append(Assessment(score=result.score, scores=result.labels,
                                          status=status, reasons=reasons, language=language,
                                          model_version=loaded.version))
        return assessments

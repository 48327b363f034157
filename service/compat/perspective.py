"""Google's Perspective API (commentanalyzer v1alpha1), answered by the active model.

``analyze`` scores a comment for the requested attributes and stores nothing (whatever
``doNotStore`` says: this service keeps no text it was only asked to score).
``suggest`` records a site's verdict on a comment as a training example of that site (the
way Coral Talk sends a moderator's approval as 0 and rejection as 1), one per
``clientToken``: a later suggestion with the same token replaces the earlier one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from classifier import LABELS
from classifier.language import TRAINED_LANGUAGES, UNDETERMINED, detect_language
from service.errors import InvalidInput
from service.retraining.models import TrainingExample
from service.retraining.services import text_key, upsert_example
from service.scoring.service import EXPLAIN_FROM, ScoringService
from service.sites.models import Site

ATTRIBUTES: dict[str, str] = {
    "TOXICITY": "toxicity",
    "SEVERE_TOXICITY": "severe_toxicity",
    "INSULT": "insult",
    "THREAT": "threat",
    "IDENTITY_ATTACK": "identity_attack",
    "PROFANITY": "obscene",
    "SPAM": "spam",
}
"""Perspective's attribute -> this model's label."""

SCORE_TYPE = "PROBABILITY"
SOURCE_PREFIX = "perspective:site"
MAX_CLIENT_TOKEN = 200


@dataclass(frozen=True)
class AnalyzeRequest:
    text: str
    attributes: dict[str, dict[str, Any]]  # name -> {"scoreType"?, "scoreThreshold"?}
    languages: list[str] = field(default_factory=list)
    span_annotations: bool = False
    client_token: str | None = None


@dataclass(frozen=True)
class SuggestRequest:
    text: str
    scores: dict[str, float]  # attribute -> its summary score, 0 (fine) to 1 (has it)
    languages: list[str] = field(default_factory=list)
    client_token: str | None = None


def invalid(message: str) -> InvalidInput:
    """Perspective's INVALID_ARGUMENT, naming what is wrong."""
    return InvalidInput({"request": [message]})


def _check_attributes(names) -> None:
    unknown = [name for name in names if name not in ATTRIBUTES]
    if unknown:
        raise invalid(f"Unknown requested attribute: {unknown[0]} (this service answers "
                      f"{', '.join(ATTRIBUTES)})")


def _check_languages(attributes, languages: list[str]) -> None:
    unsupported = [language for language in languages if language not in TRAINED_LANGUAGES]
    if unsupported:
        raise invalid(f"Attribute {next(iter(attributes))} does not support request "
                      f"languages: {', '.join(unsupported)}")


class PerspectiveService:
    def __init__(self, session: Session, scoring: ScoringService) -> None:
        self.session = session
        self.scoring = scoring

    def analyze(self, site: Site, request: AnalyzeRequest) -> dict[str, Any]:
        """``attributeScores`` for each requested attribute (those under their
        ``scoreThreshold`` left out), with ``spanScores`` when asked: the words that drove
        the label, each scored alone."""
        if not request.attributes:
            raise invalid("Missing requested_attributes")
        _check_attributes(request.attributes)
        for name, options in request.attributes.items():
            score_type = options.get("scoreType") or SCORE_TYPE
            if score_type != SCORE_TYPE:
                raise invalid(f"Requested score type {score_type} is not supported by "
                              f"attribute {name} (only {SCORE_TYPE})")
        detected, reliable = detect_language(request.text)
        languages = [language.lower() for language in request.languages]
        if not languages and reliable:
            languages = [detected]
        _check_languages(request.attributes, languages)
        loaded = self.scoring.current()
        result = loaded.model.predict_scores([request.text])[0]
        spans = (loaded.model.explain(request.text, min_probability=EXPLAIN_FROM)
                 if request.span_annotations else [])
        span_scores = self._span_scores(loaded.model, request.text, spans) if spans else {}
        scores = {}
        for name, options in request.attributes.items():
            label = ATTRIBUTES[name]
            value = float(result.labels[label])
            threshold = options.get("scoreThreshold")
            if threshold is not None and value < threshold:
                continue
            entry: dict[str, Any] = {"summaryScore": {"value": value, "type": SCORE_TYPE}}
            if request.span_annotations:
                entry["spanScores"] = span_scores.get(label, [])
            scores[name] = entry
        answer: dict[str, Any] = {
            "attributeScores": scores,
            "languages": languages or [next(iter(sorted(TRAINED_LANGUAGES)))],
            "detectedLanguages": [detected] if detected != UNDETERMINED else [],
        }
        if request.client_token is not None:
            answer["clientToken"] = request.client_token
        return answer

    @staticmethod
    def _span_scores(model, text: str, spans) -> dict[str, list[dict[str, Any]]]:
        """Each explained word, scored alone for its label, in Perspective's span shape
        (offsets in UTF-16 code units, as Perspective counts them)."""
        proba = model.predict_proba([span.text for span in spans])
        scored: dict[str, list[dict[str, Any]]] = {}
        for span, row in zip(spans, proba):
            scored.setdefault(span.label, []).append({
                "begin": _utf16(text, span.start), "end": _utf16(text, span.end),
                "score": {"value": float(row[LABELS.index(span.label)]), "type": SCORE_TYPE}})
        for entries in scored.values():
            entries.sort(key=lambda entry: entry["begin"])
        return scored

    def suggest(self, site: Site, request: SuggestRequest) -> dict[str, Any]:
        """Store the site's verdict as a training example: each attribute's label is 1 at a
        score of 0.5 or more, else 0; labels it does not name keep what the store had.

        A suggestion, sent by a site's key with no person behind it, never touches another
        site's example of the same words, nor one held out for evaluation: it is kept only
        where the text is new, the site's own, or from the seed corpus or an import (as a
        moderator's decision would be). Answered the same either way."""
        if not request.scores:
            raise invalid("attributeScores must name at least one attribute.")
        _check_attributes(request.scores)
        languages = [language.lower() for language in request.languages]
        _check_languages(request.scores, languages)
        labels: dict[str, int | None] = {label: None for label in LABELS}
        for name, value in request.scores.items():
            labels[ATTRIBUTES[name]] = int(value >= 0.5)
        token = request.client_token
        source = f"{SOURCE_PREFIX}{site.id}"
        if token:
            # One example per token: a suggestion for an edited comment replaces the one
            # for its earlier text (the site's own suggestion), unless a model has learned
            # it or it is held out.
            self.session.execute(delete(TrainingExample).where(
                TrainingExample.source == source, TrainingExample.client_token == token,
                TrainingExample.text_key != text_key(request.text),
                TrainingExample.holdout.is_(False),
                TrainingExample.trained_in.is_(None)).execution_options(
                    synchronize_session=False))
        existing = self.session.execute(
            select(TrainingExample.site_id, TrainingExample.holdout)
            .where(TrainingExample.text_key == text_key(request.text))).first()
        if existing is None or (not existing.holdout and existing.site_id in (None, site.id)):
            upsert_example(self.session, request.text, labels, source=source,
                           site_id=site.id, client_token=token)
        self.session.commit()
        detected, _ = detect_language(request.text)
        answer: dict[str, Any] = {
            "detectedLanguages": [detected] if detected != UNDETERMINED else [],
            "requestedLanguages": languages,
        }
        if token is not None:
            answer["clientToken"] = token
        return answer


def _utf16(text: str, offset: int) -> int:
    """A code-point offset into ``text`` as a count of UTF-16 code units."""
    return len(text[:offset].encode("utf-16-le")) // 2

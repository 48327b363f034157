"""A comment as plain JSON, the way the host-site API shows it: what an event carries.

The domain writes events, so it must not depend on the API's schemas; the API's
``CommentOut`` documents the same shape, and a test keeps the two equal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from service.comments.models import Comment

REASON_FIELDS = ("label", "score", "action", "threshold", "value")


def comment_payload(comment: Comment) -> dict[str, Any]:
    """``comment`` as ``GET /v1/comments/<id>`` answers it."""
    return {
        "id": comment.id,
        "status": comment.status,
        "score": _float(comment.score),
        "scores": {label: _float(value) for label, value in (comment.scores or {}).items()},
        "reasons": [{key: _float(reason[key]) if key in ("score", "value") else reason[key]
                     for key in REASON_FIELDS if key in reason}
                    for reason in comment.reasons or []],
        "model_version": comment.model_version,
        "language": comment.language,
        "article_id": comment.article.external_id,
        "author": {"id": comment.author.external_id, "name": comment.author.name},
        "parent_id": comment.parent_id,
        "client_id": comment.client_id,
        "text": comment.text,
        "featured": comment.featured,
        "created_at": _time(comment.created_at),
        "updated_at": _time(comment.updated_at),
    }


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()

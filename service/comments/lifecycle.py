"""The one place where a comment's status changes.

Every decision, the classifier's at submission and, with the review queue, a moderator's,
goes through :func:`change_status`. It is the seam where what must accompany a change (the
audit entry, the training example, the outbox event for the host site) will be written, in
the caller's transaction; today it sets the status and its time.
"""

from __future__ import annotations

from service.comments.models import Comment, CommentStatus
from service.extensions import utcnow

CLASSIFIER = "classifier"


def change_status(comment: Comment, status: CommentStatus, *, actor: str) -> None:
    """Set ``comment``'s status on behalf of ``actor``; the caller commits."""
    comment.status = status.value
    comment.updated_at = utcnow()

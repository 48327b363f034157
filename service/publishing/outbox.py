"""The outbox the lifecycle writes to: one ``events`` row per change, in the change's own
transaction, which the delivery worker then sends (``worker.py``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from service.comments.models import Comment
from service.publishing.models import DeliveryStatus, Event
from service.sites.models import Site

# One statement object: SQLAlchemy compiles it once (the ORM's bookkeeping for a row nobody
# reads back was a noticeable share of a submission).
_INSERT_EVENT = insert(Event.__table__)


class EventOutbox:
    """:class:`service.comments.ports.Outbox` on the ``events`` table."""

    def announce(self, session: Session, comment: Comment, event_type: str, now: datetime,
                 shown: dict[str, Any]) -> None:
        site = session.get(Site, comment.site_id)
        session.execute(_INSERT_EVENT, dict(
            site_id=comment.site_id, article_id=comment.article_id, comment_id=comment.id,
            message_id=f"msg_{uuid.uuid4().hex}", type=event_type, created_at=now,
            payload={"type": event_type, "timestamp": now.isoformat(), "data": shown},
            status=(DeliveryStatus.PENDING if site.webhook_url
                    else DeliveryStatus.NO_ENDPOINT).value,
            next_attempt_at=now if site.webhook_url else None, attempts=0))

    def withdraw(self, session: Session, comment_id: int, event_type: str) -> bool:
        newest = session.scalar(
            select(Event.id).where(Event.comment_id == comment_id, Event.type == event_type)
            .order_by(Event.id.desc()).limit(1))
        return newest is not None and session.execute(
            delete(Event).where(Event.id == newest, Event.status == DeliveryStatus.PENDING.value,
                                Event.attempts == 0, Event.leased_by.is_(None))
            .execution_options(synchronize_session=False)).rowcount == 1

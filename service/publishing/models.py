"""The outbox: one event per change a site cares about, with its delivery state."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.comments.models import BigId
from service.extensions import UtcDateTime, db, utcnow


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"          # waiting for its next attempt
    DELIVERED = "delivered"      # the site answered 2xx
    FAILED = "failed"            # refused for good, or retried for a day in vain
    NO_ENDPOINT = "no_endpoint"  # the site had no webhook URL: only in the event feed


class Event(db.Model):
    """Written in the same transaction as the change it announces (never one without the
    other); the worker delivers it, the event feed serves it."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_site_id_id", "site_id", "id"),
        Index("ix_events_article_id_id", "article_id", "id"),
        # What the worker looks for: pending events, soonest first.
        Index("ix_events_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    # The Standard Webhooks message id, the same across retries.
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    leased_by: Mapped[str | None] = mapped_column(String(80))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

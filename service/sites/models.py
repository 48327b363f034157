"""A site is a tenant: one news site with its own API key, webhook and decision policy."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from service.extensions import UtcDateTime, db, utcnow


class Site(db.Model):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # The key itself is never stored: its first characters find the row, its sha256 proves it.
    key_prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    webhook_secret: Mapped[str] = mapped_column(String(100))
    # After a rotation the previous secret also signs, until it expires.
    previous_webhook_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Delivery health: a run of failures pauses the endpoint; 410 Gone disables it.
    webhook_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    webhook_paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    webhook_pause_reason: Mapped[str | None] = mapped_column(String(500))
    # Decision policy: {"preset": name, "overrides": {label: {"hold_at", "reject_at"}}};
    # None means the service's default preset (classifier.policy).
    policy: Mapped[dict | None] = mapped_column(JSON)
    # Reader flags that send a published comment back to review.
    flags_to_review: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    # The reasons a moderator picks from when rejecting; None means the service's list.
    reject_reasons: Mapped[list | None] = mapped_column(JSON)
    # Articles older than this many days take no new comments; None: they stay open.
    auto_close_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

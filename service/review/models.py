"""Readers' flags on published comments."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.comments.models import BigId
from service.extensions import UtcDateTime, db, utcnow


class Flag(db.Model):
    """One reader's report; a reader (when the site names them) counts once per comment."""

    __tablename__ = "flags"
    __table_args__ = (UniqueConstraint("comment_id", "reporter_id"),
                      Index("ix_flags_comment_id_id", "comment_id", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(200))
    reporter_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

"""Articles, authors and comments, each scoped to the site that sent them."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false as sa_false

from service.extensions import UtcDateTime, db, utcnow

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class CommentStatus(enum.StrEnum):
    APPROVED = "approved"
    PENDING_REVIEW = "pending_review"
    # Published, then flagged by enough readers: hidden again until a moderator decides.
    REPORTED = "reported"
    REJECTED = "rejected"
    # Published, then taken down by a moderator.
    REMOVED = "removed"


class AuthorStandard(enum.StrEnum):
    """How the service treats an author's next comments."""

    NORMAL = "normal"
    TRUSTED = "trusted"      # published unless the score reaches reject_at
    SUSPENDED = "suspended"  # held for review until suspended_until
    BANNED = "banned"        # rejected


class Article(db.Model):
    __tablename__ = "articles"
    __table_args__ = (UniqueConstraint("site_id", "external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(2000))
    title: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Set while the article takes no new comments (a moderator closed it, or the site's
    # auto_close_days passed); None while it is open.
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When a moderator last opened it again: the site's auto-close counts from then.
    reopened_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    def closed_since(self, auto_close_days: int | None) -> datetime | None:
        """Since when the article takes no new comments (None: it is open): closed by a
        moderator, or ``auto_close_days`` after its first comment (or after it was opened
        again)."""
        if self.closed_at is not None:
            return self.closed_at
        if auto_close_days is not None:
            closes = (self.reopened_at or self.created_at) + timedelta(days=auto_close_days)
            if closes <= utcnow():
                return closes
        return None


class Author(db.Model):
    __tablename__ = "authors"
    __table_args__ = (UniqueConstraint("site_id", "external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    standing: Mapped[str] = mapped_column(String(20), default=AuthorStandard.NORMAL.value,
                                          server_default=AuthorStandard.NORMAL.value)
    suspended_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    def standing_now(self, now: datetime) -> AuthorStandard:
        """The standing in force at ``now``: a suspension ends by itself."""
        standing = AuthorStandard(self.standing)
        if standing is AuthorStandard.SUSPENDED and (
                self.suspended_until is None or self.suspended_until <= now):
            return AuthorStandard.NORMAL
        return standing


class Comment(db.Model):
    __tablename__ = "comments"
    __table_args__ = (
        UniqueConstraint("site_id", "client_id"),
        Index("ix_comments_site_status_id", "site_id", "status", "id"),
        Index("ix_comments_article_status_id", "article_id", "status", "id"),
        # The review queues, in priority order (score, then newest) and oldest first.
        Index("ix_comments_status_score_id", "status", "score", "id"),
        Index("ix_comments_site_status_score_id", "site_id", "status", "score", "id"),
        Index("ix_comments_status_id", "status", "id"),
        Index("ix_comments_author_id", "author_id", "id"),
        # An article page's replies, level by level (publishing.services.article_comments).
        Index("ix_comments_parent_id_status", "parent_id", "status"),
        # Text search in a queue answers from a trigram index on PostgreSQL, even for a word
        # no comment holds (which would otherwise read every comment of the queue).
        Index("ix_comments_text_trgm", "text", postgresql_using="gin",
              postgresql_ops={"text": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="SET NULL"))
    client_id: Mapped[str | None] = mapped_column(String(200))
    # sha256 of the submitted content: a replay with the same client_id must match it.
    content_hash: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    score: Mapped[float] = mapped_column(Float)
    scores: Mapped[dict] = mapped_column(JSON)
    reasons: Mapped[list] = mapped_column(JSON)
    model_version: Mapped[str] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(8))
    # The label with the highest probability: what the queue filters by.
    top_label: Mapped[str | None] = mapped_column(String(20))
    flag_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Chosen by a moderator to stand out under the article (published comments only).
    featured: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    # A moderator's lease on the comment while they look at it.
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    claim_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    article: Mapped[Article] = relationship(lazy="joined", innerjoin=True)
    author: Mapped[Author] = relationship(lazy="joined", innerjoin=True)
    site: Mapped["Site"] = relationship(lazy="joined", innerjoin=True)  # noqa: F821


event.listen(Comment.__table__, "before_create",
             DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"))


class AuditEntry(db.Model):
    """One action on a comment or an author, by a person, the classifier or the readers.

    Rows are only ever added: nothing in the service updates or deletes them.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_comment_id_id", "comment_id", "id"),
        Index("ix_audit_entries_author_id_id", "author_id", "id"),
        Index("ix_audit_entries_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"))
    # Who: a moderator (user_id set), "classifier" or "readers".
    actor: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(20))
    status_before: Mapped[str | None] = mapped_column(String(20))
    status_after: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    # A person's decision against the classifier's more likely verdict (score 0.5 or more
    # means "more likely harmful than not").
    overturned: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class QueueCount(db.Model):
    """How many of a site's comments are in each status, kept with every change of status,
    so the queue counts never need to count a million rows."""

    __tablename__ = "queue_counts"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"),
                                         primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)

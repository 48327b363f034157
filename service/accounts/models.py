"""Moderators and admins, and the sites each moderator may work."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Column, ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import UtcDateTime, db, utcnow
from service.sites.models import Site


class Role(enum.StrEnum):
    MODERATOR = "moderator"  # works the queues of the sites assigned to them
    ADMIN = "admin"          # sees every site


user_sites = Table(
    "user_sites", db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
)


class LoginThrottle(db.Model):
    """Sign-in attempts per username, known or not (so a back-off reveals no account)."""

    __tablename__ = "login_throttles"

    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    # The API token itself is never stored: its prefix finds the row, its sha256 proves it.
    token_prefix: Mapped[str | None] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Every session carries the epoch it began in; raising it (sign-out, a new password,
    # disabling) ends every session of the user, in every browser.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    sites: Mapped[list[Site]] = relationship(secondary=user_sites, lazy="selectin",
                                             order_by=Site.name)

    def get_id(self) -> str:
        """What the session keeps (Flask-Login): the id and the session epoch."""
        return f"{self.id}.{self.session_epoch}"

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value

    def visible_site_ids(self) -> list[int] | None:
        """The ids of the sites this user may see; None means every site."""
        return None if self.is_admin else [site.id for site in self.sites]

    def can_see(self, site_id: int) -> bool:
        visible = self.visible_site_ids()
        return visible is None or site_id in visible

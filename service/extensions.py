"""Extension objects, created unbound here and bound to the app in :func:`service.create_app`."""

from datetime import datetime, timezone
from types import ModuleType
from typing import Protocol

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import DateTime, Engine, MetaData, TypeDecorator, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Session


class Base(DeclarativeBase):
    # Named constraints, so Alembic can alter them later (SQLite batch mode needs the names).
    metadata = MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
# Checked explicitly where a cookie authenticates (the web UI, the moderation API without a
# token): the host-site API authenticates by bearer key and has no cookies to forge.
csrf = CSRFProtect()


class UtcDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every database (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        # In UTC whatever the database session's time zone: the API shows times as the
        # submission answered them (+00:00).
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None \
            else value.astimezone(timezone.utc)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware, in UTC."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


_clock: Clock = SystemClock()


def utcnow() -> datetime:
    """Now, from the process's clock: the system's, unless a test has set its own."""
    return _clock.now()


def set_clock(clock: Clock | None) -> None:
    """Make ``utcnow`` read ``clock`` (None: the system's again), for tests of what time
    changes: claims that lapse, undo windows, retention, suspensions."""
    global _clock
    _clock = clock or SystemClock()


def dialect_of(session: Session) -> ModuleType:
    """The SQLAlchemy dialect module (for ``insert ... on conflict``) of the session's database."""
    return postgresql if session.get_bind().dialect.name == "postgresql" else sqlite


def configure_engine(engine: Engine) -> None:
    """SQLite: enforce foreign keys, and let several gunicorn workers share the file (WAL)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(connection, _record) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL survives any process crash; only a power cut can lose the
        # last commits. PostgreSQL is the choice where that matters.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def belongs_to_dialect(obj, dialect_name: str) -> bool:
    """Whether a schema object declared for one database only (``.ddl_if(dialect=...)``)
    exists on ``dialect_name``: what Alembic's ``include_object`` compares with."""
    condition = getattr(obj, "_ddl_if", None)
    return condition is None or condition.dialect in (None, dialect_name)


def contains(column, text: str):
    """``column`` contains ``text`` (case-insensitive), with LIKE's wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")

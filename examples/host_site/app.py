"""A host site for the comment-moderation service, in one file (stdlib + Flask only).

It shows what a news site does beside the service:

* ``POST /webhooks/moderation`` receives the service's webhooks, checks their Standard
  Webhooks signature and timestamp, and applies each event once (by its ``webhook-id``),
  the latest version of a comment winning when events arrive late or twice;
* ``GET /articles/<article_id>`` renders the article with its published comments, threaded;
* ``POST /articles/<article_id>/comments`` (the page's form) submits a new comment to the
  service's API with the site's key and tells the reader what became of it.

Settings come from the environment (or the ``config`` mapping given to :func:`create_app`):
``MODERATION_URL`` (the service, e.g. http://127.0.0.1:8000), ``MODERATION_API_KEY`` (the
site's API key), ``WEBHOOK_SECRET`` (its ``whsec_...`` signing secret) and ``HOST_SITE_DB``
(a SQLite file; ``instance/host_site.db`` by default).

Run it with ``python -m examples.host_site`` (HOST and PORT: 127.0.0.1:5001 by default) or
``flask --app examples.host_site.app run --port 5001``; see README.md.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import sqlite3
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

from flask import Flask, current_app, redirect, render_template, request, url_for

SETTINGS = ("MODERATION_URL", "MODERATION_API_KEY", "WEBHOOK_SECRET", "HOST_SITE_DB")
SECRET_PREFIX = "whsec_"
# The Standard Webhooks specification: refuse messages whose timestamp is more than five
# minutes from now, so a captured message cannot be replayed later.
TIMESTAMP_TOLERANCE = 5 * 60
API_TIMEOUT = 10

# What each event means for the page; an event type not listed is acknowledged and ignored
# (the service may add types; a receiver must not fail on them).
SHOWN_AFTER = {"comment.approved": True, "comment.restored": True,
               "comment.held": False, "comment.rejected": False, "comment.removed": False}

# What the reader is told after submitting, by the comment's status (or the failure).
NOTICES = {
    "approved": ("ok", "Thank you: your comment is published."),
    "pending_review": ("info", "Thank you: your comment is held for review; it will appear "
                               "here once a moderator approves it."),
    "rejected": ("error", "Your comment was not published: it breaks the discussion rules."),
    "invalid": ("error", "Please give an author id and some text (a reply must answer a "
                         "comment of this article)."),
    "unavailable": ("error", "Comments cannot be submitted right now; please try again later."),
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_messages (
    id          TEXT PRIMARY KEY,   -- the webhook-id: the same across the service's retries
    type        TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS comments (
    id          INTEGER PRIMARY KEY, -- the service's comment id
    article_id  TEXT NOT NULL,
    parent_id   INTEGER,
    author_name TEXT,
    text        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,       -- the version applied last (fixed-width UTC: sorts as text)
    status      TEXT NOT NULL,
    shown       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_comments_article_shown ON comments (article_id, shown, id);
"""


# -- verifying webhooks -----------------------------------------------------------------------


class WebhookRefused(Exception):
    """The message is not from the service (401) or not acceptable as sent (400)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def secret_key(secret: str) -> bytes:
    """The HMAC key: the base64 after the ``whsec_`` prefix."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def verify_webhook(key: bytes, headers: Mapping[str, str], body: bytes, *,
                   now: float | None = None, tolerance: int = TIMESTAMP_TOLERANCE) -> str:
    """Check a Standard Webhooks message; return its id or raise :class:`WebhookRefused`.

    The signed content is ``{webhook-id}.{webhook-timestamp}.{raw body}``; the
    ``webhook-signature`` header lists space-separated ``v1,<base64 HMAC-SHA256>`` signatures
    (several while the sender rotates its secret) and one match is enough.
    """
    message_id = headers.get("webhook-id", "")
    raw_timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (message_id and raw_timestamp and signatures):
        raise WebhookRefused(400, "missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise WebhookRefused(400, "webhook-timestamp is not a number of seconds") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise WebhookRefused(400, "webhook-timestamp is more than five minutes from now")
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = hmac.new(key, signed, hashlib.sha256).digest()
    for entry in signatures.split(" "):
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue  # another scheme (v1a: asymmetric) or an empty entry
        try:
            offered = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(offered, expected):
            return message_id
    raise WebhookRefused(401, "no valid signature")


# -- storing comments -------------------------------------------------------------------------


def version_key(value: str) -> str:
    """An ISO 8601 time as fixed-width UTC text, so that later times sort later as text."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class CommentVersion:
    """A comment as one event (or API answer) showed it."""

    id: int
    article_id: str
    parent_id: int | None
    author_name: str | None
    text: str
    created_at: str
    updated_at: str
    status: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> "CommentVersion":
        """From the comment as the API shows it; ``ValueError`` if it is not one."""
        try:
            comment_id, parent_id = data["id"], data.get("parent_id")
            if not isinstance(comment_id, int) or not (parent_id is None
                                                       or isinstance(parent_id, int)):
                raise ValueError("ids must be integers")
            author = data.get("author") or {}
            return cls(id=comment_id, article_id=str(data["article_id"]), parent_id=parent_id,
                       author_name=author.get("name"), text=str(data["text"]),
                       created_at=version_key(data["created_at"]),
                       updated_at=version_key(data["updated_at"]), status=str(data["status"]))
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a comment: {error!r}") from None


class Store:
    """The site's SQLite file: comments as last heard of, and the webhook ids seen."""

    def __init__(self, path: str) -> None:
        self.path = path
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        connection = self._connect()
        try:
            # WAL: pages are read while a webhook is being written.
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(SCHEMA)
        finally:
            connection.close()

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are begun explicitly, as BEGIN IMMEDIATE.
        connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        connection.row_factory = sqlite3.Row
        return connection

    def receive(self, message_id: str, event_type: str, comment: CommentVersion | None) -> bool:
        """Apply an event unless its id was seen before; whether it was new.

        The id is recorded in the transaction that applies the event: a crash between the two
        cannot leave an event recorded but not applied (or applied twice).
        """
        with self._transaction() as connection:
            new = connection.execute(
                "INSERT OR IGNORE INTO webhook_messages (id, type, received_at) VALUES (?, ?, ?)",
                (message_id, event_type, datetime.now(timezone.utc).isoformat())).rowcount == 1
            if new and comment is not None and event_type in SHOWN_AFTER:
                self._apply(connection, comment, SHOWN_AFTER[event_type])
        return new

    def remember(self, comment: CommentVersion) -> None:
        """Store the comment as the API answered it (our own reader's new comment), so the
        page shows it at once when it was published; the webhook that follows is a no-op."""
        with self._transaction() as connection:
            self._apply(connection, comment, comment.status == "approved")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE), rolled back on any error."""
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            yield connection
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.close()

    @staticmethod
    def _apply(connection: sqlite3.Connection, comment: CommentVersion, shown: bool) -> None:
        """Insert or update the comment, unless what is stored is as recent or more: events
        may arrive out of order (a retried older one after a newer one)."""
        connection.execute(
            """INSERT INTO comments (id, article_id, parent_id, author_name, text, created_at,
                                     updated_at, status, shown)
               VALUES (:id, :article_id, :parent_id, :author_name, :text, :created_at,
                       :updated_at, :status, :shown)
               ON CONFLICT (id) DO UPDATE SET
                   article_id = excluded.article_id, parent_id = excluded.parent_id,
                   author_name = excluded.author_name, text = excluded.text,
                   created_at = excluded.created_at, updated_at = excluded.updated_at,
                   status = excluded.status, shown = excluded.shown
               WHERE excluded.updated_at > comments.updated_at""",
            {**asdict(comment), "shown": int(shown)})

    def shown(self, article_id: str) -> list[sqlite3.Row]:
        connection = self._connect()
        try:
            return connection.execute(
                "SELECT * FROM comments WHERE article_id = ? AND shown = 1 ORDER BY id",
                (article_id,)).fetchall()
        finally:
            connection.close()


@dataclass
class Thread:
    comment: sqlite3.Row
    replies: list["Thread"] = field(default_factory=list)


def threads_of(rows: list[sqlite3.Row]) -> list[Thread]:
    """Shown comments threaded by parent, oldest first; a reply whose parent is not shown
    stands alone (as in the service's own listing)."""
    threads = {row["id"]: Thread(row) for row in rows}
    roots = []
    for row in rows:
        parent = threads.get(row["parent_id"]) if row["parent_id"] is not None else None
        (parent.replies if parent else roots).append(threads[row["id"]])
    return roots


# -- calling the service ----------------------------------------------------------------------


def call_service(method: str, path: str, payload: dict | None = None) -> tuple[int, Any]:
    """One request to the moderation API with the site's key; (status, JSON answer).

    Network failures raise ``OSError`` (``urllib.error.URLError`` is one).
    """
    config = current_app.config
    request_ = urllib.request.Request(
        config["MODERATION_URL"].rstrip("/") + path, method=method,
        data=None if payload is None else json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {config['MODERATION_API_KEY']}",
                 "Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request_, timeout=API_TIMEOUT) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        with error:
            try:
                return error.code, json.load(error)
            except ValueError:
                return error.code, None


# -- the app ----------------------------------------------------------------------------------


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    for name in SETTINGS:
        if os.environ.get(name):
            app.config[name] = os.environ[name]
    app.config.update(config or {})
    app.config.setdefault("HOST_SITE_DB", os.path.join(app.instance_path, "host_site.db"))
    missing = [name for name in SETTINGS if not app.config.get(name)]
    if missing:
        raise RuntimeError(f"host site: set {', '.join(missing)} "
                           "(see examples/host_site/README.md)")
    try:
        key = secret_key(app.config["WEBHOOK_SECRET"])
    except (binascii.Error, ValueError):
        raise RuntimeError("host site: WEBHOOK_SECRET must be the whsec_... secret the service "
                           "printed for the site") from None
    store = Store(app.config["HOST_SITE_DB"])
    app.extensions["host_site.store"] = store

    @app.post("/webhooks/moderation")
    def receive_webhook():
        body = request.get_data(cache=False)
        try:
            message_id = verify_webhook(key, request.headers, body)
        except WebhookRefused as refused:
            return {"error": str(refused)}, refused.status
        try:
            event = json.loads(body)
            event_type = str(event["type"])
            comment = (CommentVersion.from_api(event["data"]) if event_type in SHOWN_AFTER
                       else None)
        except (ValueError, KeyError, TypeError) as error:
            return {"error": f"not an event: {error}"}, 400
        store.receive(message_id, event_type, comment)
        return "", 204

    @app.get("/articles/<path:article_id>")
    def article(article_id: str):
        notice = NOTICES.get(request.args.get("submitted", ""))
        reply_to = request.args.get("reply_to", "")
        return render_template(
            "article.html", article_id=article_id, threads=threads_of(store.shown(article_id)),
            notice=notice, reply_to=reply_to if reply_to.isdigit() else "",
            client_id=uuid.uuid4().hex)

    @app.post("/articles/<path:article_id>/comments")
    def submit_comment(article_id: str):
        """Submit through the service: the reader's comment is published, held or refused
        by the service, never stored here unchecked."""
        form = request.form
        author_id, author_name = form.get("author_id", "").strip(), form.get("name", "").strip()
        text, parent = form.get("text", "").strip(), form.get("parent_id", "").strip()
        if not author_id or not text or (parent and not parent.isdigit()):
            return _back(article_id, "invalid")
        payload: dict[str, Any] = {
            "article_id": article_id, "article_title": f"Article {article_id}",
            "article_url": url_for("article", article_id=article_id, _external=True),
            "author": {"id": author_id, **({"name": author_name} if author_name else {})},
            "text": text,
            # The form's own id: a double click or a resent form is answered, not stored twice.
            "client_id": form.get("client_id") or uuid.uuid4().hex}
        if parent:
            payload["parent_id"] = int(parent)
        try:
            status, answer = call_service("POST", "/v1/comments", payload)
        except (OSError, ValueError) as error:  # unreachable, or not answering JSON
            current_app.logger.warning("the moderation service cannot be reached: %s", error)
            return _back(article_id, "unavailable")
        if status in (200, 201) and isinstance(answer, dict):
            try:
                comment = CommentVersion.from_api(answer)
            except ValueError:
                return _back(article_id, "unavailable")
            store.remember(comment)
            return _back(article_id, comment.status, comment.id)
        if status == 422:
            return _back(article_id, "invalid")
        current_app.logger.error("the moderation service answered %s: %s", status, answer)
        return _back(article_id, "unavailable")

    @app.template_filter("when")
    def when(value: str) -> str:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%d %b %Y, %H:%M UTC")

    return app


def _back(article_id: str, outcome: str, comment_id: int | None = None):
    """Back to the article (303: the browser GETs it), saying what became of the comment."""
    outcome = outcome if outcome in NOTICES else "unavailable"
    extra = {"comment": comment_id} if comment_id is not None else {}
    target = url_for("article", article_id=article_id, submitted=outcome, **extra)
    return redirect(target + "#notice", 303)


def main() -> None:
    """``python -m examples.host_site``: Flask's development server on HOST:PORT."""
    host, port = os.environ.get("HOST") or "127.0.0.1", int(os.environ.get("PORT") or 5001)
    try:
        app = create_app()
    except RuntimeError as error:
        raise SystemExit(str(error)) from None
    app.run(host=host, port=port, threaded=True)


if __name__ == "__main__":
    main()

"""What host sites read (published comments, the event feed) and what admins do with
deliveries (retry, replay, pause, resume)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service.comments.models import Article, Comment, CommentStatus
from service.errors import InvalidInput, NotFound
from service.extensions import utcnow
from service.publishing.models import DeliveryStatus, Event
from service.sites.models import Site

MAX_PAGE = 200
_IN_BATCH = 500  # ids per IN list (SQLite allows a few thousand parameters)


@dataclass
class Thread:
    """A published comment and its published replies, oldest first."""

    comment: Comment
    replies: list["Thread"]


@dataclass
class ArticlePage:
    threads: list[Thread]
    next_cursor: str | None


@dataclass
class EventPage:
    events: list[Event]
    next_cursor: str | None


def _page_args(cursor: str | None, limit: int, name: str = "cursor") -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput({"limit": [f"must be between 1 and {MAX_PAGE}"]}, location="query")
    if cursor is None:
        return 0
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
        raise InvalidInput({name: ["not a cursor this endpoint gave out"]}, location="query")
    return int(cursor)


class PublishingService:
    def __init__(self, session: Session) -> None:
        self.session = session

    def article_comments(self, site: Site, article_external_id: str, *, cursor: str | None,
                         limit: int) -> ArticlePage:
        """The article's published comments, threaded by parent; paged by top-level thread.

        A published reply whose parent is not published is shown as a thread of its own.
        A page costs what it shows, not what the article holds: its top-level comments come
        from the (article, status, id) index, then their published replies, a level at a time,
        from the parent index. (Reading the whole article for every page let one large
        article tie up a worker: 349 ms at 3,000 comments.)
        """
        after = _page_args(cursor, limit)
        article_id = self.session.scalar(select(Article.id).where(
            Article.site_id == site.id, Article.external_id == article_external_id))
        if article_id is None:
            return ArticlePage([], None)
        published = CommentStatus.APPROVED.value
        roots = self._roots(article_id, after, limit + 1)
        more = len(roots) > limit
        roots = roots[:limit]
        threads = {comment.id: Thread(comment, []) for comment in roots}
        level = list(threads)
        while level:
            children = []
            for start in range(0, len(level), _IN_BATCH):
                children += self.session.scalars(
                    select(Comment).where(Comment.parent_id.in_(level[start:start + _IN_BATCH]),
                                          Comment.status == published,
                                          Comment.article_id == article_id))
            children.sort(key=lambda comment: comment.id)
            for child in children:
                threads[child.id] = Thread(child, [])
                threads[child.parent_id].replies.append(threads[child.id])
            level = [child.id for child in children]
        return ArticlePage([threads[root.id] for root in roots],
                           str(roots[-1].id) if more else None)

    def _roots(self, article_id: int, after: int, wanted: int) -> list[Comment]:
        """Up to ``wanted`` top-level comments after id ``after``: published, and not a reply
        to a published comment. Read in id order a batch at a time, their parents looked up
        by id: one SQL condition saying the same (NOT EXISTS) had PostgreSQL hash every
        published comment of the site for each page."""
        published = CommentStatus.APPROVED.value
        roots: list[Comment] = []
        batch_size = 2 * wanted
        while len(roots) < wanted:
            batch = list(self.session.scalars(
                select(Comment).where(Comment.article_id == article_id,
                                      Comment.status == published, Comment.id > after)
                .order_by(Comment.id).limit(batch_size)))
            parents = {comment.parent_id for comment in batch if comment.parent_id}
            shown = set(self.session.scalars(select(Comment.id).where(
                Comment.id.in_(parents), Comment.status == published))) if parents else set()
            roots += [comment for comment in batch if comment.parent_id not in shown]
            if len(batch) < batch_size:
                break
            after = batch[-1].id
        return roots[:wanted]

    def events(self, site: Site, *, after: str | None, limit: int) -> EventPage:
        """The site's events in order, for sites that poll instead of receiving webhooks."""
        start = _page_args(after, limit, name="after")
        rows = list(self.session.scalars(
            select(Event).where(Event.site_id == site.id, Event.id > start)
            .order_by(Event.id).limit(limit)))
        return EventPage(rows, str(rows[-1].id) if rows else after)

    # -- admin -----------------------------------------------------------------------------

    def deliveries(self, *, site_id: int | None = None, status: str | None = None,
                   limit: int = 100) -> list[Event]:
        query = select(Event).order_by(Event.id.desc()).limit(limit)
        if site_id is not None:
            query = query.where(Event.site_id == site_id)
        if status:
            query = query.where(Event.status == status)
        return list(self.session.scalars(query))

    def delivery_counts(self) -> dict[tuple[int, str], int]:
        return {(site_id, status): count for site_id, status, count in self.session.execute(
            select(Event.site_id, Event.status, func.count()).group_by(Event.site_id,
                                                                       Event.status))}

    def retry(self, event_id: int) -> Event:
        """Deliver a failed (or waiting) event again, now."""
        event = self.session.get(Event, event_id) if 0 < event_id < 2**63 else None
        if event is None:
            raise NotFound(f"no delivery {event_id}")
        event.status, event.next_attempt_at = DeliveryStatus.PENDING.value, utcnow()
        event.attempts, event.leased_by, event.lease_expires_at = 0, None, None
        self.session.commit()
        return event

    def replay(self, site: Site, since: datetime) -> int:
        """Queue every event of the site since ``since`` for delivery again; how many."""
        if not site.webhook_url:
            raise InvalidInput({"site": ["the site has no webhook URL"]})
        count = self.session.execute(
            update(Event).where(Event.site_id == site.id, Event.created_at >= since)
            .values(status=DeliveryStatus.PENDING.value, next_attempt_at=utcnow(), attempts=0,
                    leased_by=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)).rowcount
        self.session.commit()
        return count

    def pause(self, site: Site, reason: str = "paused by an admin") -> None:
        site.webhook_paused_at, site.webhook_pause_reason = utcnow(), reason
        self.session.commit()

    def resume(self, site: Site) -> None:
        """Deliver again: the failure run starts over, waiting events are due at once."""
        site.webhook_paused_at = site.webhook_pause_reason = None
        site.webhook_failures = 0
        self.session.execute(
            update(Event).where(Event.site_id == site.id,
                                Event.status == DeliveryStatus.PENDING.value)
            .values(next_attempt_at=utcnow()).execution_options(synchronize_session=False))
        self.session.commit()

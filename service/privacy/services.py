"""Erasure of a reader's comments and name on request, and retention of refused comments.

Erased comments are redacted in place, never deleted: the row keeps its id, status, scores,
audit trail and events, so the host site can still be told to take a published comment
down (a deleted comment would cascade its events away, the removal too) and the counts and
dashboard stay true. What held the words goes: the comment's text and content hash, the
text and author's name in every event payload, moderators' notes on the comments and the
author, readers' flags and the reason the audit log kept with a report (readers' words may
quote it), the training examples moderators' decisions made from its words (on any site: an
example is one row per text), and the parent text kept with the examples of its replies. Models
already trained keep what they learned (vocabulary n-grams, weights), as any model does;
the next one trained never sees the text.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable

from sqlalchemy import ColumnElement, and_, delete, func, select, update
from sqlalchemy.orm import Session

from service.comments.lifecycle import ERASED, Actor, erase
from service.comments.models import AuditEntry, Author, Comment, CommentStatus
from service.errors import NotFound
from service.extensions import utcnow
from service.publishing.models import Event
from service.retraining.models import TrainingExample
from service.retraining.services import text_key
from service.review.models import Flag
from service.sites.models import Site

log = logging.getLogger(__name__)

BATCH = 200
# How long one erasure request goes on starting batches (about 300 comments a second).
ERASE_SECONDS = 15.0
ERASE = "erase"  # the audit action of a reader's erasure
PURGE = "purge"  # the audit action of retention
RETENTION = Actor("retention")
# The statuses whose text retention erases: refused, never (or no longer) on the page.
REFUSED = (CommentStatus.REJECTED.value, CommentStatus.REMOVED.value)


@dataclass
class ErasureReport:
    """What erasing one batch, or all of an author's or of retention's, did."""

    comments_erased: int = 0
    events_emitted: int = 0
    events_scrubbed: int = 0
    examples_removed: int = 0
    # Examples of replies that kept the comment's text as their parent_text, now blank.
    parent_texts_erased: int = 0
    notes_erased: int = 0
    # Comments left for another call: a request stops after its time budget.
    remaining: int = 0

    def add(self, other: "ErasureReport") -> None:
        for key, value in asdict(other).items():
            setattr(self, key, getattr(self, key) + value)


class PrivacyService:
    """Erase an author's comments and name (the right to erasure) and purge refused comments'
    text after ``retain_rejected_days`` (0: never)."""

    def __init__(self, session: Session, *, retain_rejected_days: int,
                 batch_size: int = BATCH, erase_seconds: float = ERASE_SECONDS) -> None:
        self.session = session
        self.retain_rejected_days = retain_rejected_days
        self.batch_size = batch_size
        self.erase_seconds = erase_seconds

    def erase_author(self, site: Site, external_id: str) -> ErasureReport:
        """Erase the site's author ``external_id``: their name, and every comment they wrote
        on this site (another site's author with the same id is another person).

        Idempotent: a second call finds nothing left and answers zeros. Works in batches,
        each its own transaction, so a huge history never holds one long transaction, and
        stops starting batches after ``erase_seconds`` (a request must end well within
        gunicorn's timeout): ``remaining`` then says how many comments the next call will
        erase. An interrupted erasure is finished by calling again, too.
        """
        # No stored id is longer than 200 characters or holds NUL (which PostgreSQL could
        # not even compare).
        author = self.session.scalar(select(Author).where(
            Author.site_id == site.id, Author.external_id == external_id)) \
            if 0 < len(external_id) <= 200 and "\x00" not in external_id else None
        if author is None:
            raise NotFound("no author with that id on this site")
        report = ErasureReport()
        # The name first: the removal events written below dump the author as it is now.
        author.name = None
        report.notes_erased += self._erase_notes(AuditEntry.author_id == author.id,
                                                 AuditEntry.comment_id.is_(None))
        self.session.commit()
        actor = Actor(f"site {site.name}"[:80])
        mine = Comment.author_id == author.id
        deadline = time.monotonic() + self.erase_seconds
        while ids := self._lock_batch(mine, skip_locked=False):
            report.add(self._erase(ids, actor=actor, action=ERASE))
            if time.monotonic() >= deadline:
                report.remaining = self.session.scalar(
                    select(func.count(Comment.id)).where(mine, Comment.text != ERASED))
                self.session.rollback()
                break
        log.info("erased author %d of site %d: %s", author.id, site.id, asdict(report))
        return report

    def purge(self, *, now: datetime | None = None, dry_run: bool = False,
              should_stop: Callable[[], bool] = lambda: False) -> ErasureReport:
        """Erase the text of comments rejected or removed more than ``retain_rejected_days``
        ago (by their last change); with ``dry_run``, count what would go and change nothing.
        """
        report = ErasureReport()
        if not self.retain_rejected_days:
            return report
        cutoff = (now or utcnow()) - timedelta(days=self.retain_rejected_days)
        due = (Comment.status.in_(REFUSED), Comment.updated_at < cutoff)
        if dry_run:
            return self._count(due)
        while not should_stop() and (ids := self._lock_batch(*due, skip_locked=True)):
            report.add(self._erase(ids, actor=RETENTION, action=PURGE))
        if report.comments_erased:
            log.info("retention purged comments decided before %s: %s", cutoff.isoformat(),
                     asdict(report))
        return report

    # -- the erasure itself ---------------------------------------------------------------

    def _lock_batch(self, *where, skip_locked: bool) -> list[int]:
        """The next batch of unerased comments matching ``where``, locked on PostgreSQL.
        Retention skips rows locked by another worker's purge (it takes others); an
        erasure waits for them, since it must miss none of the author's comments."""
        return list(self.session.scalars(
            select(Comment.id).where(*where, Comment.text != ERASED).order_by(Comment.id)
            .limit(self.batch_size).with_for_update(skip_locked=skip_locked)))

    def _erase(self, ids: list[int], *, actor: Actor, action: str) -> ErasureReport:
        """Erase the comments ``ids`` and everything that held their text, in one
        transaction: a comment is never left blank while an event or example keeps it."""
        comments = list(self.session.scalars(
            select(Comment).where(Comment.id.in_(ids)).order_by(Comment.id)))
        keys, quoted = _example_keys(comments), _quoted(comments)
        # An author's erasure removes the words wherever a decision stored them (the row may
        # have been taken over by another site's identical decision); the retention purge,
        # which nobody asked for, only the erasing site's own.
        sites = None if action == ERASE else {comment.site_id for comment in comments}
        report = ErasureReport(comments_erased=len(comments))
        with self.session.no_autoflush:  # the audit entries and events go in together
            for comment in comments:
                report.events_emitted += erase(self.session, comment, actor=actor,
                                               action=action)
        self.session.flush()
        report.events_scrubbed = self._scrub_events(ids)
        if quoted is not None:
            report.parent_texts_erased = self.session.execute(
                update(TrainingExample).where(quoted).values(parent_text=None)
                .execution_options(synchronize_session=False)).rowcount
        if keys:
            report.examples_removed = self.session.execute(
                delete(TrainingExample).where(_made_from(keys, sites))
                .execution_options(synchronize_session=False)).rowcount
        report.notes_erased += self._erase_notes(AuditEntry.comment_id.in_(ids))
        # What readers wrote when they flagged it, kept with the report entry, may quote it.
        self.session.execute(
            update(AuditEntry).where(AuditEntry.comment_id.in_(ids),
                                     AuditEntry.action == "report",
                                     AuditEntry.reason.is_not(None)).values(reason=None)
            .execution_options(synchronize_session=False))
        self.session.execute(delete(Flag).where(Flag.comment_id.in_(ids))
                             .execution_options(synchronize_session=False))
        self.session.commit()
        return report

    def _scrub_events(self, comment_ids: list[int]) -> int:
        """Blank the text and the author's name in the payloads of these comments' events
        (those not yet delivered go out blank; the feed shows them blank)."""
        scrubbed = 0
        for event in self.session.scalars(select(Event).where(Event.comment_id.in_(comment_ids))):
            payload = _scrubbed(event.payload)
            if payload != event.payload:
                event.payload = payload  # a new object: the JSON column sees the change
                scrubbed += 1
        return scrubbed

    def _erase_notes(self, *where) -> int:
        """Moderators' notes may quote the comment or name the author: blank them. The only
        change the audit log allows (see the migration that relaxed its trigger)."""
        return self.session.execute(
            update(AuditEntry).where(*where, AuditEntry.note.is_not(None)).values(note=None)
            .execution_options(synchronize_session=False)).rowcount

    def _count(self, due) -> ErasureReport:
        """What purging ``due`` would do, without doing it."""
        unerased = (*due, Comment.text != ERASED)
        report = ErasureReport(
            comments_erased=self.session.scalar(select(func.count(Comment.id)).where(*unerased)),
            events_scrubbed=self.session.scalar(
                select(func.count(Event.id)).join(Comment, Comment.id == Event.comment_id)
                .where(*unerased)),
            notes_erased=self.session.scalar(
                select(func.count(AuditEntry.id)).join(Comment,
                                                       Comment.id == AuditEntry.comment_id)
                .where(*unerased, AuditEntry.note.is_not(None))))
        after = 0
        while rows := self.session.execute(
                select(Comment.id, Comment.site_id, Comment.text).where(*unerased,
                                                                       Comment.id > after)
                .order_by(Comment.id).limit(self.batch_size)).all():
            after = rows[-1].id
            if keys := _example_keys(rows):
                report.examples_removed += self.session.scalar(
                    select(func.count(TrainingExample.id)).where(
                        _made_from(keys, {row.site_id for row in rows})))
            if (quoted := _quoted(rows)) is not None:
                report.parent_texts_erased += self.session.scalar(
                    select(func.count(TrainingExample.id)).where(quoted))
        self.session.rollback()
        return report


def _example_keys(comments: Iterable) -> set[str]:
    """The training-example keys of these comments' texts."""
    return {text_key(comment.text) for comment in comments if comment.text}


def _made_from(keys: set[str], sites: set[int] | None = None) -> ColumnElement[bool]:
    """The examples a site's decision stored with one of these texts: of ``sites`` only, or
    (None) whichever site's decision stored it last. An example is one row per text, so
    another site's identical decision takes the row over (its ``site_id``), and a rule by
    site would leave an erased author's words behind. Seed and imported rows no decision
    touched (no site) stay."""
    condition = and_(TrainingExample.text_key.in_(keys), TrainingExample.site_id.is_not(None))
    return condition if sites is None else and_(condition,
                                                TrainingExample.site_id.in_(sites))


def _quoted(comments: Iterable) -> ColumnElement[bool] | None:
    """Where an example keeps one of these comments' texts as its parent_text (None: nowhere
    to look). The lifecycle stored it under the reply's site, which is the parent's, so
    another site's identical words stay, as for the examples. Two plain IN lists rather than
    one of (site, text) pairs: PostgreSQL hashes those, and the scan of the table takes a
    tenth of the time (a context blanked on another site of the same batch costs nothing)."""
    texts = {comment.text for comment in comments if comment.text}
    sites = {comment.site_id for comment in comments if comment.text}
    return and_(TrainingExample.parent_text.in_(texts), TrainingExample.site_id.in_(sites)) \
        if texts else None


def _scrubbed(payload: dict) -> dict:
    """``payload`` with the comment's text and the author's name blanked."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        return payload
    data = {**data}
    if "text" in data:
        data["text"] = ERASED
    if isinstance(data.get("author"), dict):
        data["author"] = {**data["author"], "name": None}
    return {**payload, "data": data}

"""The one place where a comment's status changes, and what must accompany each change.

Every change, the classifier's decision at submission, readers' reports and a moderator's
decision, goes through :func:`record_submission` or :func:`transition` (and erasure of the
text, for privacy, through :func:`erase`). In the caller's
transaction they also write the audit entry, keep the queue counts, and store a person's
decision as a training example, and write the outbox event the host site will receive: a
change is never stored without its event, nor announced without being stored.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.expression import Executable

from classifier import LABELS
from service.comments import ports
from service.comments.models import AuditEntry, Comment, CommentStatus, QueueCount
from service.comments.payload import comment_payload
from service.errors import Conflict
from service.extensions import dialect_of, utcnow

S = CommentStatus


class Action(enum.StrEnum):
    SUBMIT = "submit"    # the classifier's decision on a new comment
    REPORT = "report"    # enough readers flagged a published comment
    APPROVE = "approve"
    REJECT = "reject"
    REMOVE = "remove"    # take a published comment down
    RESTORE = "restore"  # publish a rejected or removed comment after all
    FEATURE = "feature"      # make a published comment stand out (no status change)
    UNFEATURE = "unfeature"
    UNDO = "undo"            # a moderator takes their decision of a moment ago back


# Which statuses each action may start from, and where it leads. Approve and reject work the
# review queues; reversals of a published or refused comment are remove and restore, so a
# second moderator's late approve or reject of the same item is a conflict, not a reversal.
TRANSITIONS: dict[Action, tuple[frozenset[CommentStatus], CommentStatus]] = {
    Action.REPORT: (frozenset({S.APPROVED}), S.REPORTED),
    Action.APPROVE: (frozenset({S.PENDING_REVIEW, S.REPORTED}), S.APPROVED),
    Action.REJECT: (frozenset({S.PENDING_REVIEW, S.REPORTED}), S.REJECTED),
    Action.REMOVE: (frozenset({S.APPROVED, S.REPORTED}), S.REMOVED),
    Action.RESTORE: (frozenset({S.REJECTED, S.REMOVED}), S.APPROVED),
}
PUBLISHED = S.APPROVED

# What a person's refusal says about the text, by the reason they gave. "off-topic", "other"
# and a site's own reasons say nothing about the labels: such a decision lives in the audit
# log but is no training example (it would teach the model nothing, and must not erase what
# an earlier decision on the same text taught it).
REASON_LABELS: dict[str, dict[str, int]] = {
    "spam": {"spam": 1},
    "abuse": {"toxicity": 1, "insult": 1},
    "hate": {"toxicity": 1, "identity_attack": 1},
    "threat": {"toxicity": 1, "threat": 1},
    "obscene": {"toxicity": 1, "obscene": 1},
}
# The event each change announces to the host site.
# What the host site is told when a comment arrives at (or an undo puts it back in) a status.
STATUS_EVENTS = {S.PENDING_REVIEW: "comment.held", S.REPORTED: "comment.held",
                 S.APPROVED: "comment.approved", S.REJECTED: "comment.rejected",
                 S.REMOVED: "comment.removed"}
ACTION_EVENTS = {Action.REPORT: "comment.held", Action.APPROVE: "comment.approved",
                 Action.REJECT: "comment.rejected", Action.REMOVE: "comment.removed",
                 Action.RESTORE: "comment.restored"}

# A classifier score from which it judged the comment more likely harmful than not.
LIKELY_HARMFUL = 0.5


@dataclass(frozen=True)
class Actor:
    """Who acts: a moderator (``user_id`` set), the classifier, or the site's readers."""

    name: str
    user_id: int | None = None

    @property
    def is_person(self) -> bool:
        return self.user_id is not None


CLASSIFIER = Actor("classifier")
READERS = Actor("readers")


def record_submission(session: Session, comment: Comment, status: CommentStatus, *,
                      reason: str | None = None) -> dict:
    """Add a new comment with the classifier's decision; the caller commits. Returns the
    comment as the API shows it (what its event carries), so the answer needs no reload."""
    now = utcnow()
    comment.status = status.value
    comment.created_at = comment.updated_at = now
    session.add(comment)
    session.flush()
    # Plain inserts of the table rows (no ORM objects): nothing reads them back here, and the
    # ORM's bookkeeping was a fifth of a submission's time.
    session.execute(_INSERT_AUDIT_ENTRY, dict(
        site_id=comment.site_id, comment_id=comment.id, author_id=comment.author_id,
        actor=CLASSIFIER.name, action=Action.SUBMIT.value, status_after=status.value,
        reason=reason, created_at=now))
    shown = _announce(session, comment, STATUS_EVENTS[status], now)
    _count(session, comment.site_id, {status.value: 1})  # last: see _count
    return shown


def transition(session: Session, comment: Comment, action: Action, *, actor: Actor,
               reason: str | None = None, note: str | None = None,
               respect_claims: bool = False) -> AuditEntry:
    """Apply ``action`` to ``comment`` if its status allows it; the caller commits.

    The change is one conditional UPDATE, so two moderators (or workers) acting on the same
    comment at once cannot both succeed: the loser gets :class:`Conflict`. A moderator also
    cannot act on a comment another moderator holds a live claim on; nor can the classifier
    when ``respect_claims`` (re-scoring the queue leaves a claimed comment to its moderator).
    """
    allowed, target = TRANSITIONS[action]
    before = comment.status
    if comment.text == ERASED:
        raise Conflict(f"comment {comment.id} was erased; it can never be published again")
    if before not in allowed:
        raise Conflict(_state_conflict(session, comment, action))
    if actor.is_person and comment.parent_id is not None:
        _lock_parent(session, comment)
    now = utcnow()
    where = [Comment.id == comment.id, Comment.status == before]
    if actor.is_person or respect_claims:
        where.append(or_(Comment.claimed_by_id.is_(None), Comment.claimed_by_id == actor.user_id,
                         Comment.claim_expires_at <= now))
    values = {"status": target.value, "updated_at": now, "claimed_by_id": None,
              "claim_expires_at": None}
    if target is not PUBLISHED:
        values["featured"] = False  # only a published comment stands out
    if before == S.REPORTED:
        values["flag_count"] = 0  # a kept comment needs as many new flags to return
    changed = session.execute(
        update(Comment).where(*where).values(**values)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        session.refresh(comment)
        if comment.status != before:
            raise Conflict(_state_conflict(session, comment, action))
        raise Conflict(f"comment {comment.id} is claimed by another moderator until "
                       f"{comment.claim_expires_at:%H:%M:%S} UTC")
    for key, value in values.items():
        setattr(comment, key, value)
    overturned = None
    if actor.is_person:
        publishes = target is PUBLISHED
        overturned = publishes == (comment.score >= LIKELY_HARMFUL)
        _store_example(session, comment, publishes, reason, actor)
    entry = AuditEntry(site_id=comment.site_id, comment_id=comment.id,
                       author_id=comment.author_id, actor=actor.name, user_id=actor.user_id,
                       action=action.value, status_before=before, status_after=target.value,
                       reason=reason, note=note, overturned=overturned, created_at=now)
    session.add(entry)
    _announce(session, comment, ACTION_EVENTS[action], now)
    _count(session, comment.site_id, {before: -1, target.value: 1})  # last: see _count
    return entry


FEATURE_EVENTS = {True: "comment.featured", False: "comment.unfeatured"}
UNDOABLE = (Action.APPROVE, Action.REJECT, Action.REMOVE, Action.RESTORE)
UNDO_SECONDS = 60
"""How long a moderator may take a decision back."""


def undo(session: Session, comment: Comment, *, actor: Actor) -> AuditEntry:
    """Take back ``actor``'s own decision on ``comment`` of the last :data:`UNDO_SECONDS`,
    audited; the caller commits. Its event is withdrawn if it never went out (still waiting
    for its first attempt), else corrected by an event for the status restored; its training
    example is forgotten unless a model has learned it. Anything else is a conflict."""
    last = session.scalar(select(AuditEntry).where(AuditEntry.comment_id == comment.id)
                          .order_by(AuditEntry.id.desc()).limit(1))
    now = utcnow()
    if (last is None or last.user_id is None or last.user_id != actor.user_id
            or last.action not in UNDOABLE
            or (now - last.created_at).total_seconds() > UNDO_SECONDS):
        raise Conflict(f"comment {comment.id} has no decision of yours to undo (a decision can "
                       f"be undone for {UNDO_SECONDS} seconds, until anyone acts on it again)")
    before, after = last.status_after, last.status_before
    changed = session.execute(
        update(Comment).where(Comment.id == comment.id, Comment.status == before)
        .values(status=after, updated_at=now, featured=False)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        session.refresh(comment)
        raise Conflict(_state_conflict(session, comment, Action.UNDO))
    for key, value in {"status": after, "updated_at": now, "featured": False}.items():
        set_committed_value(comment, key, value)
    _count(session, comment.site_id, {before: -1, after: 1})
    withdrawn = ports.outbox().withdraw(session, comment.id, ACTION_EVENTS[Action(last.action)])
    if not withdrawn:
        _announce(session, comment, STATUS_EVENTS[S(after)], now)
    ports.examples().forget(session, comment.text, source=f"moderation:site{comment.site_id}")
    entry = AuditEntry(site_id=comment.site_id, comment_id=comment.id,
                       author_id=comment.author_id, actor=actor.name, user_id=actor.user_id,
                       action=Action.UNDO.value, status_before=before, status_after=after,
                       note=f"undid {last.action}" + ("" if withdrawn else
                                                       ", host site told again"),
                       created_at=now)
    session.add(entry)
    return entry


def set_featured(session: Session, comment: Comment, featured: bool, *, actor: Actor,
                 note: str | None = None) -> AuditEntry:
    """Feature a published comment (or stop featuring it), with its audit entry and its
    event; the caller commits. Featuring anything but a published comment is a conflict."""
    if featured and comment.status != PUBLISHED:
        raise Conflict(f"comment {comment.id} is {comment.status}: only a published comment "
                       "can be featured")
    if comment.featured == featured:
        raise Conflict(f"comment {comment.id} is {'already' if featured else 'not'} featured")
    now = utcnow()
    changed = session.execute(
        update(Comment).where(Comment.id == comment.id, Comment.featured.is_(not featured),
                              Comment.status == comment.status)
        .values(featured=featured, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        session.refresh(comment)
        raise Conflict(f"comment {comment.id} changed meanwhile: it is {comment.status}"
                       f"{', featured' if comment.featured else ''}")
    set_committed_value(comment, "featured", featured)
    set_committed_value(comment, "updated_at", now)
    action = Action.FEATURE if featured else Action.UNFEATURE
    entry = AuditEntry(site_id=comment.site_id, comment_id=comment.id,
                       author_id=comment.author_id, actor=actor.name, user_id=actor.user_id,
                       action=action.value, status_before=comment.status,
                       status_after=comment.status, note=note, created_at=now)
    session.add(entry)
    _announce(session, comment, FEATURE_EVENTS[featured], now)
    return entry


# An erased comment's text. No comment is ever submitted empty, so it marks erasure too.
ERASED = ""
# What erasure leaves of each status: nothing stays where it could be published from.
ERASED_STATUS = {S.APPROVED: S.REMOVED, S.REPORTED: S.REMOVED, S.PENDING_REVIEW: S.REMOVED,
                 S.REJECTED: S.REJECTED, S.REMOVED: S.REMOVED}


def erase(session: Session, comment: Comment, *, actor: Actor, action: str) -> bool:
    """Blank the comment's text for good (a reader's erasure, or retention's ``action``) and
    take it out of reach: approved, reported and pending comments become removed, and a
    published one is announced ``comment.removed`` so the host site takes it down. The event
    is dumped after the text is blank (and, for erasure, after the caller blanked the
    author's name), so it carries neither. Returns whether it wrote an event; the caller
    commits, and scrubs the older events, notes and examples that held the text.
    """
    while True:
        before = comment.status
        target = ERASED_STATUS[S(before)].value
        now = utcnow()
        values = {"status": target, "text": ERASED, "content_hash": ERASED, "flag_count": 0,
              "featured": False,
                  "claimed_by_id": None, "claim_expires_at": None, "updated_at": now}
        # Conditional on the status read, as transition is: a decision landing meanwhile
        # is read again rather than overwritten blind (its count would go astray).
        if session.execute(update(Comment).where(Comment.id == comment.id,
                                                 Comment.status == before)
                           .values(**values).execution_options(synchronize_session=False)
                           ).rowcount == 1:
            break
        session.refresh(comment)
    for key, value in values.items():
        set_committed_value(comment, key, value)  # already stored: no second UPDATE
    if target != before:
        _count(session, comment.site_id, {before: -1, target: 1})
    session.add(AuditEntry(site_id=comment.site_id, comment_id=comment.id,
                           author_id=comment.author_id, actor=actor.name, action=action,
                           status_before=before, status_after=target, created_at=now))
    if before in (S.APPROVED, S.REPORTED):
        _announce(session, comment, ACTION_EVENTS[Action.REMOVE], now)
        return True
    return False


_INSERT_AUDIT_ENTRY = insert(AuditEntry.__table__)


def _announce(session: Session, comment: Comment, event_type: str, now: datetime) -> dict:
    """Add the outbox event for this change, carrying the comment as the API shows it;
    returns that comment."""
    shown = comment_payload(comment)
    ports.outbox().announce(session, comment, event_type, now, shown)
    return shown


def _state_conflict(session: Session, comment: Comment, action: Action) -> str:
    last = session.scalar(
        select(AuditEntry).where(AuditEntry.comment_id == comment.id)
        .order_by(AuditEntry.id.desc()).limit(1))
    by = f" by {last.actor} at {last.created_at:%Y-%m-%d %H:%M:%S} UTC" if last else ""
    return (f"comment {comment.id} is {comment.status}{by}; "
            f"'{action.value}' is not possible from that status")


def _count(session: Session, site_id: int, changes: dict[str, int]) -> None:
    """Add ``changes`` to the site's queue counts, rows in a fixed order (no deadlocks).

    Every change of a site's comments updates the same few rows, which each transaction then
    holds locked until it commits: callers count last, just before their commit, so the rows
    are held for one statement and the commit rather than the whole transaction (with the
    count first, PostgreSQL took 85 submissions a second from 8 clients of one site)."""
    statement = _add_to_count(dialect_of(session))
    for status in sorted(changes):
        session.execute(statement, {"site_id": site_id, "status": status,
                                    "count": changes[status]})


@functools.cache
def _add_to_count(dialect: ModuleType) -> Executable:
    """``INSERT ... ON CONFLICT DO UPDATE`` adding the new row's count to the stored one; one
    statement object, so SQLAlchemy compiles it once."""
    table = QueueCount.__table__
    statement = dialect.insert(table)
    return statement.on_conflict_do_update(
        index_elements=["site_id", "status"],
        set_={"count": table.c.count + statement.excluded.count})


def _lock_parent(session: Session, comment: Comment) -> None:
    """Hold the parent's row (FOR SHARE, on PostgreSQL) until commit, before the reply's:
    erasure locks comments FOR UPDATE in id order, a parent before its replies, so it can
    neither blank the parent between our read of its text and our commit (the example would
    keep erased words) nor deadlock with us. SQLite has one writer: reading the parent after
    our UPDATE is enough there."""
    session.execute(select(Comment.id).where(Comment.id == comment.parent_id)
                    .with_for_update(read=True))


def _store_example(session: Session, comment: Comment, publishes: bool, reason: str | None,
                   actor: Actor) -> None:
    """Keep a person's decision as a labeled example; a later decision on the same text wins.
    The article's title and the parent's text go with it (an erased parent's text is gone)."""
    if publishes:
        labels: dict[str, int | None] = {label: 0 for label in LABELS}
    else:
        known = REASON_LABELS.get(reason or "", {})
        labels = {label: known.get(label) for label in LABELS}
    parent_text = session.scalar(select(Comment.text).where(
        Comment.id == comment.parent_id)) if comment.parent_id is not None else None
    ports.examples().keep(session, comment.text, labels,
                          source=f"moderation:site{comment.site_id}", site_id=comment.site_id,
                          article_title=comment.article.title,
                          parent_text=None if parent_text == ERASED else parent_text)

"""Review queues and moderators' work on them: listing, claims, decisions, authors, flags.

Every method takes the acting user and sees only the sites that user may see: a comment
of another site does not exist for them (404), whichever page or endpoint asks.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import case, func, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from classifier import Span
from service.accounts.models import User
from service.comments.lifecycle import (
    READERS,
    UNDO_SECONDS,
    UNDOABLE,
    Action,
    Actor,
    set_featured,
    transition,
    undo,
)
from service.comments.models import (
    Article,
    AuditEntry,
    Author,
    AuthorStandard,
    Comment,
    CommentStatus,
    QueueCount,
)
from service.errors import Conflict, InvalidInput, NotFound, Unavailable
from service.extensions import contains, utcnow
from service.review.models import Flag
from service.scoring.service import ScoringService
from service.sites.models import Site
from service.sites.services import DEFAULT_REJECT_REASONS

S = CommentStatus
QUEUES: dict[str, tuple[CommentStatus, ...]] = {
    "pending": (S.PENDING_REVIEW,),
    "reported": (S.REPORTED,),
    "rejected": (S.REJECTED, S.REMOVED),
    "approved": (S.APPROVED,),
}
# Queues where a comment waits for a decision: one claimed by someone else is not served.
WAITING = {"pending", "reported"}
ORDERS = ("priority", "oldest")
DECISIONS = (Action.APPROVE, Action.REJECT, Action.REMOVE, Action.RESTORE)
NEEDS_REASON = (Action.REJECT, Action.REMOVE)
MAX_LIMIT = 200
MAX_NOTE = 2000
MAX_SEARCH = 200
MAX_CURSOR = 200
MAX_BULK = 500


@dataclass(frozen=True)
class QueueQuery:
    """Which queue, in which order, narrowed by which filters, from where."""

    queue: str = "pending"
    order: str = "priority"
    site: str | None = None
    article: str | None = None
    label: str | None = None
    author: str | None = None
    text: str | None = None
    limit: int = 50
    cursor: str | None = None

    def check(self) -> None:
        """Refuse (422) what no page of a queue can answer; the fields are query arguments."""
        errors = {}
        if self.queue not in QUEUES:
            errors["queue"] = [f"must be one of {', '.join(QUEUES)}"]
        if self.order not in ORDERS:
            errors["order"] = [f"must be one of {', '.join(ORDERS)}"]
        if not 1 <= self.limit <= MAX_LIMIT:
            errors["limit"] = [f"must be between 1 and {MAX_LIMIT}"]
        if self.text is not None and len(self.text) > MAX_SEARCH:
            errors["q"] = [f"at most {MAX_SEARCH} characters"]
        if self.cursor is not None and len(self.cursor) > MAX_CURSOR:
            errors["cursor"] = ["not a cursor this queue gave out"]
        if errors:
            raise InvalidInput(errors, location="query")

    def filters(self) -> dict[str, str]:
        """The query's filters and order, as the query-string of a link that keeps them."""
        values = {"queue": self.queue, "order": self.order, "site": self.site,
                  "article": self.article, "label": self.label, "author": self.author,
                  "q": self.text}
        return {key: value for key, value in values.items() if value}


@dataclass
class QueuePage:
    items: list[Comment]
    next_cursor: str | None


@dataclass(frozen=True)
class Segment:
    """A run of a comment's text; ``label`` is set where the classifier's evidence lies."""

    text: str
    label: str | None = None
    weight: float = 0.0


@dataclass(frozen=True)
class AuthorHistory:
    """An author's comments by status, and the latest of them."""

    counts: dict[str, int]
    recent: list[Comment]


@dataclass
class ItemDetail:
    """All a moderator needs to decide one comment."""

    comment: Comment
    segments: list[Segment]
    spans: list[Span]
    parent: Comment | None
    author_counts: dict[str, int]
    author_recent: list[Comment]
    audit: list[AuditEntry]
    reject_reasons: list[str]
    claimed_by: str | None = None
    claim_conflict: str | None = None
    flags: list[Flag] = field(default_factory=list)
    suggested_reason: str | None = None
    why: list[str] = field(default_factory=list)

    @property
    def author_history(self) -> AuthorHistory:
        return AuthorHistory(self.author_counts, self.author_recent)


@dataclass
class QueueRow:
    """A queue's row as a moderator reads it: why the comment is there, its text with the
    words behind its score marked, and the reject reasons of its site, the one its likeliest
    label suggests first (None: no label is likely enough to suggest one)."""

    comment: Comment
    why: list[str]
    segments: list[Segment]
    reasons: list[str]
    suggested: str | None


# The reject reason a comment's likeliest label suggests, where the site has that reason.
SUGGESTED_REASON = {"spam": "spam", "threat": "threat", "identity_attack": "hate",
                    "obscene": "obscene", "toxicity": "abuse", "severe_toxicity": "abuse",
                    "insult": "abuse"}
SUGGEST_FROM = 0.25  # a label less likely than this suggests nothing
ROW_TEXT = 280  # characters of a comment a queue row shows


@dataclass(frozen=True)
class ArticleRow:
    """An article with its comments' counts per queue and its latest activity."""

    article: Article
    site_name: str
    counts: dict[str, int]
    last_activity: datetime
    closed_since: datetime | None


@dataclass(frozen=True)
class BulkResult:
    decided: list[int]
    failed: dict[int, str]


def reject_reasons(site: Site) -> list[str]:
    return list(site.reject_reasons or DEFAULT_REJECT_REASONS)


def highlight(text: str, spans: Sequence[Span]) -> list[Segment]:
    """Cut ``text`` into plain and highlighted runs; where spans overlap the stronger wins."""
    marks: list[tuple[str, float] | None] = [None] * len(text)
    for span in sorted(spans, key=lambda s: s.weight):
        for i in range(max(span.start, 0), min(span.end, len(text))):
            marks[i] = (span.label, span.weight)
    segments: list[Segment] = []
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or marks[i] != marks[start]:
            mark = marks[start]
            segments.append(Segment(text[start:i], *(mark or (None, 0.0))))
            start = i
    return segments


def suggested_reason(scores: dict[str, float], reasons: Sequence[str]) -> str | None:
    """The reject reason the likeliest label suggests, if it is likely enough and the site
    has that reason; never a fixed default (a wrong one would teach the model a wrong label)."""
    label = max(scores, key=scores.get, default=None)
    if label is None or scores[label] < SUGGEST_FROM:
        return None
    reason = SUGGESTED_REASON.get(label)
    if reason not in reasons and label == "obscene":
        reason = "abuse"
    return reason if reason in reasons else None


def why_held(comment: Comment, flags: Counter | None = None) -> list[str]:
    """Why a comment waits, in a moderator's words: each rule that fired (strongest first,
    at most three), the language, the author's standing, the readers' flags."""
    why, labels = [], []
    for reason in comment.reasons or []:
        label, action = reason.get("label"), reason.get("action")
        if label == "language":
            why.append(f"language {comment.language or 'unknown'}: not one the model learned")
        elif label == "author":
            why.append(f"author {reason.get('threshold')}")
        elif action in ("hold", "reject") and reason.get("score") is not None:
            labels.append(reason)
    labels.sort(key=lambda r: -(r.get("score") or 0.0))
    shown = [f"{'score' if r['label'] == 'any' else r['label'].replace('_', ' ')} "
             f"{r['score']:.2f} ({r['action']} from {r['value']:g})" for r in labels[:3]]
    if len(labels) > 3:
        shown[-1] += f" +{len(labels) - 3} more"
    why = shown + why
    if flags:
        total = sum(flags.values())
        detail = ", ".join(f"{reason} ×{n}" if n > 1 else reason
                           for reason, n in flags.most_common(3))
        why.append(f"{total} reader flag{'s' if total != 1 else ''}: {detail}")
    elif comment.flag_count:
        why.append(f"{comment.flag_count} reader flag{'s' if comment.flag_count != 1 else ''}")
    return why


class ReviewService:
    """The review queues and every moderator action on them."""

    def __init__(self, session: Session, scoring: ScoringService, *,
                 claim_seconds: int = 300) -> None:
        self.session = session
        self.scoring = scoring
        self.claim_seconds = claim_seconds

    # -- reading ---------------------------------------------------------------------------

    def visible_sites(self, user: User) -> list[Site]:
        query = select(Site).order_by(Site.name)
        visible = user.visible_site_ids()
        if visible is not None:
            query = query.where(Site.id.in_(visible))
        return list(self.session.scalars(query))

    def bulk_reasons(self, user: User, site_name: str | None) -> list[str]:
        """The reject reasons that hold for a selection: the site's own when the queue is
        filtered to one site, else those every site the user sees accepts."""
        sites = self.visible_sites(user)
        if site_name:
            sites = [site for site in sites if site.name == site_name]
        if not sites:
            return list(DEFAULT_REJECT_REASONS)
        common = reject_reasons(sites[0])
        for site in sites[1:]:
            allowed = set(reject_reasons(site))
            common = [reason for reason in common if reason in allowed]
        return common

    def counts(self, user: User) -> dict[str, int]:
        """How many comments wait in (or sit in) each queue, over the user's sites."""
        query = select(QueueCount.status, func.sum(QueueCount.count)).group_by(QueueCount.status)
        visible = user.visible_site_ids()
        if visible is not None:
            query = query.where(QueueCount.site_id.in_(visible))
        by_status = {status: int(total or 0) for status, total in self.session.execute(query)}
        return {queue: sum(by_status.get(s.value, 0) for s in statuses)
                for queue, statuses in QUEUES.items()}

    def queue(self, user: User, query: QueueQuery) -> QueuePage:
        """One page of a queue, and the cursor of the next page (None on the last)."""
        query.check()
        statement = self._filtered(user, query)
        if query.cursor:
            statement = statement.where(_after(query.order, _decode_cursor(query.cursor,
                                                                           query.order)))
        rows = list(self.session.scalars(statement.limit(query.limit + 1)))
        more = len(rows) > query.limit
        rows = rows[:query.limit]
        return QueuePage(rows, _encode_cursor(query.order, rows[-1]) if more and rows else None)

    def rows(self, comments: Sequence[Comment]) -> list[QueueRow]:
        """The page's comments as a moderator reads them (see :class:`QueueRow`)."""
        flags: dict[int, Counter] = {}
        flagged = [c.id for c in comments if c.flag_count]
        if flagged:
            for comment_id, reason, n in self.session.execute(
                    select(Flag.comment_id, Flag.reason, func.count())
                    .where(Flag.comment_id.in_(flagged))
                    .group_by(Flag.comment_id, Flag.reason)):
                flags.setdefault(comment_id, Counter())[reason] = n
        try:
            model = self.scoring.current().model
        except Unavailable:
            model = None
        sites = {site.id: site for site in self.session.scalars(
            select(Site).where(Site.id.in_({c.site_id for c in comments})))}
        texts = [c.text if len(c.text) <= ROW_TEXT else c.text[:ROW_TEXT - 1] + "…"
                 for c in comments]
        spans = model.explain_many(texts) if model is not None else [[] for _ in texts]
        rows = []
        for comment, text, marks in zip(comments, texts, spans):
            reasons = reject_reasons(sites[comment.site_id])
            rows.append(QueueRow(comment, why_held(comment, flags.get(comment.id)),
                                 highlight(text, marks), reasons,
                                 suggested_reason(comment.scores or {}, reasons)))
        return rows

    def articles(self, user: User, *, site: str | None = None, page: int = 1,
                 limit: int = 50, article_id: int | None = None
                 ) -> tuple[list[ArticleRow], bool]:
        """Articles with comments, latest activity first, with their counts per queue; and
        whether another page follows."""
        if not 1 <= limit <= MAX_LIMIT or not 1 <= page <= 10_000:
            raise InvalidInput({"page": [f"page from 1, limit from 1 to {MAX_LIMIT}"]})
        last = func.max(Comment.updated_at).label("last")
        counted = [func.sum(case((Comment.status.in_([s.value for s in statuses]), 1), else_=0))
                   for statuses in QUEUES.values()]
        statement = (select(Article, Site.name, Site.auto_close_days, last, *counted)
                     .join(Comment, Comment.article_id == Article.id)
                     .join(Site, Site.id == Article.site_id)
                     .group_by(Article.id, Site.name, Site.auto_close_days)
                     .order_by(last.desc(), Article.id.desc())
                     .offset((page - 1) * limit).limit(limit + 1))
        visible = user.visible_site_ids()
        if visible is not None:
            statement = statement.where(Article.site_id.in_(visible))
        if site:
            statement = statement.where(Site.name == site)
        if article_id is not None:
            statement = statement.where(Article.id == article_id)
        rows = self.session.execute(statement).all()
        return [ArticleRow(article, site_name, dict(zip(QUEUES, map(int, counts))), when,
                           article.closed_since(auto_close))
                for article, site_name, auto_close, when, *counts in rows[:limit]], \
            len(rows) > limit

    def set_closed(self, user: User, article_id: int, closed: bool) -> Article:
        """Close an article to new comments, or open it again (the site's auto-close then
        counts from now)."""
        article = self.session.get(Article, article_id) if 0 < article_id < 2**63 else None
        if article is None or not user.can_see(article.site_id):
            raise NotFound(f"no article {article_id}")
        now = utcnow()
        article.closed_at = now if closed else None
        if not closed:
            article.reopened_at = now
        self.session.commit()
        return article

    def neighbours(self, user: User, query: QueueQuery,
                   comment: Comment) -> tuple[int | None, int | None]:
        """The comments before and after ``comment`` in the queue as ``query`` orders it."""
        query.check()
        base = self._filtered(user, query).where(Comment.id != comment.id)
        following = self.session.scalar(
            base.where(_after(query.order, _key(query.order, comment))).limit(1))
        preceding = self.session.scalar(
            self._filtered(user, query, reverse=True).where(Comment.id != comment.id)
            .where(_after(query.order, _key(query.order, comment), reverse=True)).limit(1))
        return (preceding.id if preceding else None), (following.id if following else None)

    def get(self, user: User, comment_id: int) -> Comment:
        comment = self.session.get(Comment, comment_id) if 0 < comment_id < 2**63 else None
        if comment is None or not user.can_see(comment.site_id):
            raise NotFound(f"no comment {comment_id}")
        return comment

    def detail(self, user: User, comment_id: int, *, claim: bool = True) -> ItemDetail:
        """The comment with its evidence, context and history; opening it claims it."""
        comment = self.get(user, comment_id)
        conflict = None
        if claim:
            try:
                self.claim(user, comment_id)
            except Conflict as error:
                conflict = str(error)
        try:
            spans = self.scoring.current().model.explain(comment.text)
        except Unavailable:
            spans = []
        parent = (self.session.get(Comment, comment.parent_id)
                  if comment.parent_id is not None else None)
        history = self._history(comment.author_id, leave_out=comment.id, recent=5)
        counts, recent = history.counts, history.recent
        claimed_by = None
        if comment.claimed_by_id is not None and comment.claim_expires_at > utcnow():
            holder = self.session.get(User, comment.claimed_by_id)
            claimed_by = holder.username if holder else None
        flags = list(self.session.scalars(
            select(Flag).where(Flag.comment_id == comment.id).order_by(Flag.id.desc()).limit(20)))
        reasons = reject_reasons(self._site(comment.site_id))
        return ItemDetail(comment=comment, segments=highlight(comment.text, spans), spans=spans,
                          parent=parent, author_counts=counts, author_recent=recent,
                          audit=self.audit(user, comment_id),
                          reject_reasons=reasons, claimed_by=claimed_by,
                          claim_conflict=conflict, flags=flags,
                          suggested_reason=suggested_reason(comment.scores or {}, reasons),
                          why=why_held(comment, Counter(flag.reason for flag in flags)))

    def audit(self, user: User, comment_id: int) -> list[AuditEntry]:
        comment = self.get(user, comment_id)
        return list(self.session.scalars(
            select(AuditEntry).where(or_(AuditEntry.comment_id == comment.id,
                                         (AuditEntry.author_id == comment.author_id)
                                         & AuditEntry.comment_id.is_(None)))
            .order_by(AuditEntry.id)))

    # -- acting ----------------------------------------------------------------------------

    def claim(self, user: User, comment_id: int) -> Comment:
        """Lease the comment to ``user`` for ``claim_seconds``; another live claim conflicts."""
        comment = self.get(user, comment_id)
        for _ in range(3):  # the holder may let go between our attempt and our look
            now = utcnow()
            changed = self.session.execute(
                update(Comment)
                .where(Comment.id == comment.id,
                       or_(Comment.claimed_by_id.is_(None), Comment.claimed_by_id == user.id,
                           Comment.claim_expires_at <= now))
                .values(claimed_by_id=user.id,
                        claim_expires_at=now + timedelta(seconds=self.claim_seconds))
                .execution_options(synchronize_session=False)).rowcount
            self.session.commit()
            self.session.refresh(comment)
            if changed == 1:
                return comment
            holder = (self.session.get(User, comment.claimed_by_id)
                      if comment.claimed_by_id is not None else None)
            if holder is not None and comment.claim_expires_at is not None:
                raise Conflict(f"comment {comment.id} is claimed by {holder.username} until "
                               f"{comment.claim_expires_at:%H:%M:%S} UTC")
        raise Conflict(f"comment {comment.id} is being decided by another moderator")

    def decide(self, user: User, comment_id: int, action: str, *, reason: str | None = None,
               note: str | None = None) -> Comment:
        """Approve, reject, remove or restore; :class:`Conflict` if the status no longer allows
        it or another moderator holds the comment."""
        comment = self.get(user, comment_id)
        chosen, reason = self._check_decision(comment, action, reason, note)
        try:
            transition(self.session, comment, chosen, actor=Actor(user.username, user.id),
                       reason=reason, note=note or None)
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise
        return comment

    def undo(self, user: User, comment_id: int) -> Comment:
        """Take back the user's own decision on the comment of the last minute."""
        comment = self.get(user, comment_id)
        try:
            undo(self.session, comment, actor=Actor(user.username, user.id))
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise
        return comment

    def author(self, user: User, author_id: int) -> tuple[Author, AuthorHistory]:
        """An author of the user's sites with their history (for the queue's drawer)."""
        author = self.session.get(Author, author_id) if 0 < author_id < 2**63 else None
        if author is None or not user.can_see(author.site_id):
            raise NotFound(f"no author {author_id}")
        return author, self._history(author_id, recent=10)

    def _history(self, author_id: int, *, recent: int, leave_out: int | None = None
                 ) -> AuthorHistory:
        counts = dict(self.session.execute(
            select(Comment.status, func.count()).where(Comment.author_id == author_id)
            .group_by(Comment.status)).all())
        latest = select(Comment).where(Comment.author_id == author_id)
        if leave_out is not None:
            latest = latest.where(Comment.id != leave_out)
        return AuthorHistory(counts, list(self.session.scalars(
            latest.order_by(Comment.id.desc()).limit(recent))))

    def last_undoable(self, user: User) -> AuditEntry | None:
        """The user's latest decision that may still be undone (nobody has acted on its
        comment since), if any."""
        since = utcnow() - timedelta(seconds=UNDO_SECONDS)
        entry = self.session.scalar(
            select(AuditEntry).where(AuditEntry.user_id == user.id,
                                     AuditEntry.action.in_([a.value for a in UNDOABLE]),
                                     AuditEntry.created_at >= since)
            .order_by(AuditEntry.id.desc()).limit(1))
        if entry is None:
            return None
        latest = self.session.scalar(select(func.max(AuditEntry.id))
                                     .where(AuditEntry.comment_id == entry.comment_id))
        return entry if latest == entry.id else None

    def feature(self, user: User, comment_id: int, featured: bool, *,
                note: str | None = None) -> Comment:
        """Feature a published comment or stop featuring it (``comment.featured`` /
        ``comment.unfeatured`` to the host site); :class:`Conflict` otherwise."""
        comment = self.get(user, comment_id)
        if note is not None and len(note) > MAX_NOTE:
            raise InvalidInput({"note": [f"at most {MAX_NOTE} characters"]})
        try:
            set_featured(self.session, comment, featured, actor=Actor(user.username, user.id),
                         note=note or None)
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise
        return comment

    def decide_many(self, user: User, comment_ids: Sequence[int], action: str, *,
                    reason: str | None = None, note: str | None = None) -> BulkResult:
        """The same decision over a selection; each comment succeeds or fails on its own."""
        if not 1 <= len(comment_ids) <= MAX_BULK:
            raise InvalidInput({"ids": [f"select 1 to {MAX_BULK} comments"]})
        decided, failed = [], {}
        for comment_id in dict.fromkeys(comment_ids):
            try:
                self.decide(user, comment_id, action, reason=reason, note=note)
            except InvalidInput as error:
                if len(comment_ids) == 1 or "action" in error.errors:
                    raise
                failed[comment_id] = str(error)
            except (Conflict, NotFound) as error:
                failed[comment_id] = str(error)
            else:
                decided.append(comment_id)
        return BulkResult(decided, failed)

    def set_standing(self, user: User, author_id: int, standing: str, *,
                     days: int | None = None, note: str | None = None) -> Author:
        """Ban, suspend (for ``days``), trust, or return an author to normal standing."""
        author = self.session.get(Author, author_id) if 0 < author_id < 2**63 else None
        if author is None or not user.can_see(author.site_id):
            raise NotFound(f"no author {author_id}")
        try:
            chosen = AuthorStandard(standing)
        except ValueError:
            raise InvalidInput({"standing": [
                f"must be one of {', '.join(s.value for s in AuthorStandard)}"]}) from None
        until = None
        if chosen is AuthorStandard.SUSPENDED:
            if days is None or not 1 <= days <= 365:
                raise InvalidInput({"days": ["a suspension lasts 1 to 365 days"]})
            until = utcnow() + timedelta(days=days)
        if note is not None and len(note) > MAX_NOTE:
            raise InvalidInput({"note": [f"at most {MAX_NOTE} characters"]})
        before = author.standing
        author.standing, author.suspended_until = chosen.value, until
        self.session.add(AuditEntry(
            site_id=author.site_id, author_id=author.id, actor=user.username, user_id=user.id,
            action=f"author_{chosen.value}", status_before=before, status_after=chosen.value,
            reason=f"for {days} days" if until else None, note=note or None))
        self.session.commit()
        return author

    def flag(self, site: Site, comment_id: int, reason: str,
             reporter_id: str | None = None) -> tuple[Comment, bool]:
        """A reader flags a published comment; enough flags send it back to review.

        Returns the comment and whether the flag counted (a reader counts once).
        """
        comment = self.session.scalar(select(Comment).where(
            Comment.id == comment_id, Comment.site_id == site.id)) if 0 < comment_id < 2**63 \
            else None
        if comment is None:
            raise NotFound(f"no comment {comment_id}")
        if comment.status not in (S.APPROVED, S.REPORTED):
            raise Conflict(f"comment {comment_id} is {comment.status}, not published: "
                           "only published comments can be flagged")
        try:
            with self.session.begin_nested():
                self.session.add(Flag(comment_id=comment.id, reason=reason,
                                      reporter_id=reporter_id))
        except IntegrityError:
            self.session.rollback()
            return comment, False
        self.session.execute(update(Comment).where(Comment.id == comment.id)
                             .values(flag_count=Comment.flag_count + 1)
                             .execution_options(synchronize_session=False))
        self.session.refresh(comment)
        if comment.status == S.APPROVED and comment.flag_count >= site.flags_to_review:
            reasons = Counter(self.session.scalars(
                select(Flag.reason).where(Flag.comment_id == comment.id)))
            try:
                transition(self.session, comment, Action.REPORT, actor=READERS,
                           reason=reasons.most_common(1)[0][0][:200])
            except Conflict:
                pass  # a moderator acted on it meanwhile: the flag still counts
        self.session.commit()
        return comment, True

    # -- helpers ---------------------------------------------------------------------------

    def _check_decision(self, comment: Comment, action: str, reason: str | None,
                        note: str | None) -> tuple[Action, str | None]:
        """The action, and its reason: one of the site's where the action needs one, else
        none (a reason sent with an approval is dropped, not stored)."""
        if action not in {a.value for a in DECISIONS}:
            names = ", ".join(a.value for a in DECISIONS)
            raise InvalidInput({"action": [f"must be one of {names}"]})
        chosen = Action(action)
        errors = {}
        reasons = reject_reasons(self._site(comment.site_id))
        if chosen in NEEDS_REASON and reason not in reasons:
            errors["reason"] = [f"must be one of {', '.join(reasons)}"]
        if note is not None and len(note) > MAX_NOTE:
            errors["note"] = [f"at most {MAX_NOTE} characters"]
        if errors:
            raise InvalidInput(errors)
        return chosen, reason if chosen in NEEDS_REASON else None

    def _site(self, site_id: int) -> Site:
        return self.session.get(Site, site_id)

    def _filtered(self, user: User, query: QueueQuery, *, reverse: bool = False):
        statuses = [s.value for s in QUEUES[query.queue]]
        statement = select(Comment).where(Comment.status.in_(statuses) if len(statuses) > 1
                                          else Comment.status == statuses[0])
        sites = user.visible_site_ids()
        if query.site:
            site = self.session.scalar(select(Site).where(Site.name == query.site))
            if site is None or not user.can_see(site.id):
                raise NotFound(f"no site named {query.site!r}")
            sites = [site.id]
        if sites is not None:
            statement = statement.where(Comment.site_id.in_(sites))
        # Articles and authors are found by (site, the site's own id): its unique index.
        for model, value, column in ((Article, query.article, Comment.article_id),
                                     (Author, query.author, Comment.author_id)):
            if value:
                ids = select(model.id).where(model.external_id == value)
                if sites is not None:
                    ids = ids.where(model.site_id.in_(sites))
                statement = statement.where(column.in_(ids))
        if query.label:
            statement = statement.where(Comment.top_label == query.label)
        if query.text:
            statement = statement.where(contains(Comment.text, query.text))
        if query.queue in WAITING:
            statement = statement.where(or_(Comment.claimed_by_id.is_(None),
                                            Comment.claimed_by_id == user.id,
                                            Comment.claim_expires_at <= utcnow()))
        if query.order == "priority":
            columns = (Comment.score.asc(), Comment.id.asc()) if reverse \
                else (Comment.score.desc(), Comment.id.desc())
        else:
            columns = (Comment.id.desc(),) if reverse else (Comment.id.asc(),)
        return statement.order_by(*columns)


def _key(order: str, comment: Comment) -> tuple:
    return (comment.score, comment.id) if order == "priority" else (comment.id,)


def _after(order: str, key: tuple, *, reverse: bool = False):
    """Rows after ``key`` in the queue's order (before it when ``reverse``): a keyset bound
    the database answers from the queue index, however deep the page."""
    if order == "priority":
        # Most likely harmful first; equal scores newest first, so one row comparison works.
        bound = tuple_(Comment.score, Comment.id)
        return bound > key if reverse else bound < key
    return Comment.id < key[0] if reverse else Comment.id > key[0]


def _encode_cursor(order: str, comment: Comment) -> str:
    raw = json.dumps([order, *_key(order, comment)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, order: str) -> tuple:
    invalid = InvalidInput({"cursor": ["not a cursor this queue gave out (or for another order)"]},
                           location="query")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise invalid from None
    if not isinstance(value, list) or not value or value[0] != order:
        raise invalid
    key = value[1:]
    if order == "priority" and len(key) == 2 and _is_id(key[1]) and _is_score(key[0]):
        return float(key[0]), key[1]
    if order == "oldest" and len(key) == 1 and _is_id(key[0]):
        return (key[0],)
    raise invalid


def _is_id(value: object) -> bool:
    return type(value) is int and 0 <= value < 2**63


def _is_score(value: object) -> bool:
    return type(value) in (int, float) and -1e9 < value < 1e9 and math.isfinite(value)

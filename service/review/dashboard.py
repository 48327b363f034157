"""The moderation dashboard: queue sizes, decisions per hour, automation and overturn rates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from service.accounts.models import User
from service.comments.lifecycle import Action
from service.comments.models import AuditEntry, CommentStatus
from service.extensions import utcnow
from service.review.services import ReviewService

HOURS = 24
DAYS = 7


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    detail: str


@dataclass
class DashboardSummary:
    counts: dict[str, int]
    decisions_per_hour: list[Bar]   # people's decisions, last 24 hours
    automatic_share: list[Bar]      # per day: share of new comments the classifier settled
    overturn_rate: list[Bar]        # per day: share of people's decisions against its verdict
    automatic_total: float | None
    overturn_total: float | None


class DashboardService:
    """Aggregates over the audit log, restricted to the sites the user sees."""

    def __init__(self, session: Session, review: ReviewService) -> None:
        self.session = session
        self.review = review

    def summary(self, user: User, *, now: datetime | None = None) -> DashboardSummary:
        now = now or utcnow()
        automatic, overturned, totals = self.daily(user, now=now)
        return DashboardSummary(
            counts=self.review.counts(user), decisions_per_hour=self.hourly(user, now=now),
            automatic_share=automatic, overturn_rate=overturned,
            automatic_total=_ratio(totals["settled"], totals["submitted"]),
            overturn_total=_ratio(totals["overturned"], totals["judged"]))

    def hourly(self, user: User, *, now: datetime | None = None) -> list[Bar]:
        """People's decisions per hour, the last 24 hours."""
        hour = (now or utcnow()).replace(minute=0, second=0, microsecond=0)
        rows = self._buckets(user, since=hour - timedelta(hours=HOURS - 1), width="hour")
        per_hour = []
        for i in range(HOURS):
            start = hour - timedelta(hours=HOURS - 1 - i)
            decided = rows.get(_bucket_key(start, "hour"), {}).get("decided", 0)
            per_hour.append(Bar(f"{start:%H}:00", decided,
                                f"{decided} decisions from {start:%H}:00 UTC"))
        return per_hour

    def daily(self, user: User, *, now: datetime | None = None
              ) -> tuple[list[Bar], list[Bar], dict[str, int]]:
        """Per day, the last 7: the share of new comments settled at once, the share of
        people's decisions against the classifier's verdict, and the week's totals."""
        today = (now or utcnow()).replace(hour=0, minute=0, second=0, microsecond=0)
        rows = self._buckets(user, since=today - timedelta(days=DAYS - 1), width="day")
        automatic, overturned = [], []
        totals = {"settled": 0, "submitted": 0, "overturned": 0, "judged": 0}
        for i in range(DAYS):
            start = today - timedelta(days=DAYS - 1 - i)
            row = rows.get(_bucket_key(start, "day"), {})
            for key in totals:
                totals[key] += row.get(key, 0)
            automatic.append(_share(start, row.get("settled", 0), row.get("submitted", 0),
                                    "new comments approved or rejected at once"))
            overturned.append(_share(start, row.get("overturned", 0), row.get("judged", 0),
                                     "decisions against the classifier's verdict"))
        return automatic, overturned, totals

    def _buckets(self, user: User, *, since: datetime, width: str) -> dict[str, dict[str, int]]:
        bucket = _truncate(self.session, AuditEntry.created_at, width)
        person = AuditEntry.user_id.is_not(None)
        decision = person & AuditEntry.comment_id.is_not(None)
        submitted = AuditEntry.action == Action.SUBMIT.value
        settled = submitted & (AuditEntry.status_after != CommentStatus.PENDING_REVIEW.value)
        query = (select(bucket.label("bucket"),
                        func.sum(case((decision, 1), else_=0)),
                        func.sum(case((submitted, 1), else_=0)),
                        func.sum(case((settled, 1), else_=0)),
                        func.sum(case((AuditEntry.overturned.is_(True), 1), else_=0)),
                        func.sum(case((AuditEntry.overturned.is_not(None), 1), else_=0)))
                 .where(AuditEntry.created_at >= since).group_by(bucket))
        visible = user.visible_site_ids()
        if visible is not None:
            query = query.where(AuditEntry.site_id.in_(visible))
        result = {}
        names = ("decided", "submitted", "settled", "overturned", "judged")
        for key, *sums in self.session.execute(query):
            name = key if isinstance(key, str) else _bucket_key(key, width)
            result[name] = {n: int(value or 0) for n, value in zip(names, sums, strict=True)}
        return result


def _truncate(session: Session, column, width: str):
    """The start of the hour or day of ``column``, as the database can compute it."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column),
                            "YYYY-MM-DD HH24" if width == "hour" else "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d %H" if width == "hour" else "%Y-%m-%d", column)


def _bucket_key(moment: datetime, width: str) -> str:
    return moment.strftime("%Y-%m-%d %H" if width == "hour" else "%Y-%m-%d")


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _share(day: datetime, part: int, whole: int, what: str) -> Bar:
    value = part / whole if whole else 0.0
    return Bar(f"{day:%a %d}", value, f"{day:%Y-%m-%d}: {part} of {whole} {what}"
               + (f" ({value:.0%})" if whole else ""))

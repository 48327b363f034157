"""The delivery worker: takes due events from the outbox and POSTs them, signed, to sites.

Several workers (on several machines) may run at once on PostgreSQL: each claims a batch with
``FOR UPDATE SKIP LOCKED`` and leases it for ``lease_seconds``; a worker killed mid-batch
leaves its events to be claimed again once the lease runs out (at least once; exactly once
while nothing crashes). On SQLite one worker is enough.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Callable

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from service.extensions import utcnow
from service.publishing.models import DeliveryStatus, Event
from service.publishing.signing import webhook_headers
from service.publishing.transport import Response, UnsafeUrl, UrlPolicy, post
from service.sites.models import Site

log = logging.getLogger(__name__)

# Waits between attempts: about a day in all, then the event is marked failed.
RETRY_DELAYS = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 14400, 14400, 14400, 14400, 14400)
MAX_RETRY_AFTER = 86400
# A run of this many failed attempts in a row pauses the site's endpoint.
PAUSE_AFTER_FAILURES = 20
RETRYABLE = {408, 429}

Poster = Callable[..., Response]


@dataclass(frozen=True)
class Outcome:
    delivered: bool = False
    retry: bool = False
    gone: bool = False
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None


def classify(response: Response | None, error: Exception | None, now: datetime) -> Outcome:
    """What an answer (or its absence) means for the event."""
    if response is None:
        return Outcome(retry=True, error=_short(repr(error)))
    code = response.status
    if 200 <= code < 300:
        return Outcome(delivered=True, status_code=code)
    if code == 410:
        return Outcome(gone=True, status_code=code, error="410 Gone: the endpoint is disabled")
    if code >= 500 or code in RETRYABLE:
        return Outcome(retry=True, status_code=code, error=f"HTTP {code}",
                       retry_after=_retry_after(response.headers.get("retry-after"), now))
    return Outcome(status_code=code, error=f"HTTP {code}: refused, not retried")


def next_delay(attempts: int, retry_after: float | None) -> float | None:
    """Seconds until the next attempt after ``attempts`` failed ones; None when spent."""
    if attempts > len(RETRY_DELAYS):
        return None
    base = RETRY_DELAYS[attempts - 1]
    delay = base * random.uniform(0.8, 1.2)  # jitter: retries of a recovering site spread out
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


class DeliveryWorker:
    """One worker process's loop; ``run_once`` is one claimed batch."""

    def __init__(self, session: Session, policy: UrlPolicy, *, name: str | None = None,
                 batch_size: int = 20, lease_seconds: int = 60, timeout: float = 10.0,
                 poster: Poster = post) -> None:
        self.session = session
        self.policy = policy
        self.name = name or f"worker-{uuid.uuid4().hex[:8]}"
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        # A request must fit inside the lease, with room for the ones before it.
        self.timeout = min(timeout, lease_seconds / 3)
        self.poster = poster

    def run(self, stop: threading.Event, *, poll_seconds: float = 0.5) -> None:
        """Deliver until ``stop`` is set; a batch in flight is finished first."""
        log.info("%s delivering webhooks", self.name)
        while not stop.is_set():
            try:
                handled = self.run_once()
            except Exception:  # keep delivering: a database blip must not end the worker
                log.exception("%s: delivery batch failed", self.name)
                self.session.rollback()
                handled = 0
            if not handled:
                stop.wait(poll_seconds)

    def run_once(self) -> int:
        """Claim a batch and deliver it. A site that fails (or gets paused) is not tried again
        in the same batch: its other events wait with the failed one, uncounted, so a site that
        is down costs one attempt a round, not one per waiting event. Events the lease may not
        cover any more are let go for another round. Returns how many events were sent."""
        lease = self._claim()
        waiting: dict[int, datetime | None] = {}  # site id -> when its events are due again
        sent = 0
        for event_id, site_id in lease.events:
            if site_id in waiting or utcnow() + timedelta(seconds=self.timeout) >= lease.until:
                self._release(event_id, lease.token, due=waiting.get(site_id))
                continue
            try:
                outcome = self._deliver(event_id, site_id, lease.token)
            except Exception as unexpected:  # one event's failure must not stop the others'
                self.session.rollback()
                log.exception("%s: event %s could not be delivered", self.name, event_id)
                self._release(event_id, lease.token, error=_short(f"not sent: {unexpected!r}"))
                waiting[site_id] = None
                continue
            sent += outcome is not None
            if outcome is not None and not outcome.delivered:
                waiting[site_id] = self.session.scalar(
                    select(Event.next_attempt_at).where(Event.id == event_id))
                self.session.commit()
        return sent

    # -- claiming --------------------------------------------------------------------------

    @dataclass(frozen=True)
    class Lease:
        token: str
        until: datetime
        events: list[tuple[int, int]]  # (event id, site id), in delivery order

    def _claim(self) -> "DeliveryWorker.Lease":
        now = utcnow()
        until = now + timedelta(seconds=self.lease_seconds)
        token = f"{self.name}:{uuid.uuid4().hex[:12]}"
        due = (select(Event.id).join(Site, Site.id == Event.site_id)
               .where(Event.status == DeliveryStatus.PENDING.value,
                      Event.next_attempt_at <= now,
                      or_(Event.lease_expires_at.is_(None), Event.lease_expires_at <= now),
                      Site.webhook_paused_at.is_(None))
               .order_by(Event.next_attempt_at, Event.id).limit(self.batch_size))
        if self.session.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(of=Event, skip_locked=True)
        ids = list(self.session.scalars(due))
        if ids:
            # The lease condition is repeated, so a second SQLite worker cannot take a lease
            # that the first took between its read and this write.
            self.session.execute(
                update(Event)
                .where(Event.id.in_(ids),
                       or_(Event.lease_expires_at.is_(None), Event.lease_expires_at <= now))
                .values(leased_by=token, lease_expires_at=until)
                .execution_options(synchronize_session=False))
        events = [tuple(row) for row in self.session.execute(
            select(Event.id, Event.site_id).where(Event.id.in_(ids), Event.leased_by == token)
            .order_by(Event.next_attempt_at, Event.id))] if ids else []
        self.session.commit()
        return self.Lease(token, until, events)

    # -- delivering ------------------------------------------------------------------------

    def _deliver(self, event_id: int, site_id: int, token: str) -> Outcome | None:
        """POST one event; its outcome (None when it was not sent)."""
        event = self.session.get(Event, event_id)
        site = self.session.get(Site, site_id)
        now = utcnow()
        url = site.webhook_url
        body = json.dumps(event.payload, separators=(",", ":"), sort_keys=True).encode()
        headers = webhook_headers(signing_secrets(site, now), event.message_id,
                                  int(now.timestamp()), body)
        self.session.commit()  # no transaction stays open while the site answers
        response = error = None
        try:
            response = self.poster(url, headers, body, policy=self.policy, timeout=self.timeout)
        except UnsafeUrl as unsafe:
            self._pause(site_id, _short(f"webhook URL refused: {unsafe}"))
            self._release(event_id, token, error=_short(f"not sent: {unsafe}"))
            return None
        except OSError as failure:
            error = failure
        outcome = classify(response, error, utcnow())
        self._record(event_id, site_id, token, outcome)
        return outcome

    def _record(self, event_id: int, site_id: int, token: str, outcome: Outcome) -> None:
        """Store the attempt's outcome, unless the lease was lost meanwhile."""
        now = utcnow()
        event = self.session.scalar(select(Event).where(Event.id == event_id,
                                                        Event.leased_by == token))
        if event is None:
            self.session.rollback()
            log.warning("%s: lease on event %s lost before its outcome was stored",
                        self.name, event_id)
            return
        event.attempts += 1
        event.last_status_code = outcome.status_code
        event.last_error = outcome.error
        event.leased_by = event.lease_expires_at = None
        if outcome.delivered:
            event.status, event.delivered_at = DeliveryStatus.DELIVERED.value, now
            event.next_attempt_at = None
            # Only when there is a run to end: every delivery rewriting the site's row would
            # make parallel workers queue on it.
            self.session.execute(update(Site).where(Site.id == site_id,
                                                    Site.webhook_failures != 0)
                                 .values(webhook_failures=0))
        else:
            delay = next_delay(event.attempts, outcome.retry_after) if outcome.retry else None
            if delay is None:
                event.status, event.next_attempt_at = DeliveryStatus.FAILED.value, None
            else:
                event.next_attempt_at = now + timedelta(seconds=delay)
            self._count_failure(site_id, gone=outcome.gone)
        self.session.commit()

    def _count_failure(self, site_id: int, *, gone: bool) -> None:
        self.session.execute(update(Site).where(Site.id == site_id)
                             .values(webhook_failures=Site.webhook_failures + 1))
        failures = self.session.scalar(select(Site.webhook_failures).where(Site.id == site_id))
        if gone:
            self._pause(site_id, "the endpoint answered 410 Gone: disabled until resumed",
                        commit=False)
        elif failures >= PAUSE_AFTER_FAILURES:
            self._pause(site_id, f"{failures} failed attempts in a row", commit=False)

    def _pause(self, site_id: int, reason: str, *, commit: bool = True) -> None:
        self.session.execute(update(Site).where(Site.id == site_id,
                                                Site.webhook_paused_at.is_(None))
                             .values(webhook_paused_at=utcnow(), webhook_pause_reason=reason))
        log.warning("site %s: webhook deliveries paused: %r", site_id, reason)
        if commit:
            self.session.commit()

    def _release(self, event_id: int, token: str, *, error: str | None = None,
                 due: datetime | None = None) -> None:
        """Give a leased event back unattempted (due at ``due`` if given)."""
        values: dict = {"leased_by": None, "lease_expires_at": None}
        if error is not None:
            values["last_error"] = error
        if due is not None:
            values["next_attempt_at"] = due
        self.session.execute(update(Event).where(Event.id == event_id, Event.leased_by == token)
                             .values(**values).execution_options(synchronize_session=False))
        self.session.commit()


def signing_secrets(site: Site, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous during its grace period."""
    secrets = [site.webhook_secret]
    if (site.previous_webhook_secret and site.previous_secret_expires_at
            and site.previous_secret_expires_at > now):
        secrets.append(site.previous_webhook_secret)
    return secrets


def _retry_after(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
    except (TypeError, ValueError):
        return None


def _short(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[:limit] + "..."

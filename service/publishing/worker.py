"""The delivery worker: takes due events from the outbox and POSTs them, signed, to sites.

Within a worker, each site's events go down a lane of their own (see DeliveryWorker), so one
site's slow receiver cannot delay the others'. Several workers (on several machines) may run
at once on PostgreSQL: each claims a batch with
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
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Callable

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from service.extensions import utcnow
from service.publishing.models import DeliveryStatus, Event
from service.publishing.signing import webhook_headers
from service.publishing.transport import Response, post
from service.sites.models import Site
from service.webhook_urls import UnsafeUrl, UrlPolicy

log = logging.getLogger(__name__)

# Waits between attempts: about a day in all, then the event is marked failed.
RETRY_DELAYS = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 14400, 14400, 14400, 14400, 14400)
MAX_RETRY_AFTER = 86400
# A run of this many failed attempts in a row pauses the site's endpoint.
PAUSE_AFTER_FAILURES = 20
RETRYABLE = {408, 429}
# Delivered events stored at a time: each as soon as it is delivered, so a worker killed
# between a delivery and its storing sends only that one event again.
SETTLE_EVERY = 1

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
    """One worker process's loop: claims due events and delivers them in lanes.

    Each site's claimed events go down one lane (a thread, with a database session of its
    own), in order; lanes run side by side, and a site with a lane in flight is not claimed
    for again until it is done. So a site whose receiver is slow holds one lane, for at most
    ``timeout`` seconds an event, while every other site's events go on through the others.
    """

    def __init__(self, session: Session, policy: UrlPolicy, *, name: str | None = None,
                 batch_size: int = 20, lease_seconds: int = 60, timeout: float = 10.0,
                 lanes: int = 8, poster: Poster = post) -> None:
        self.session = session
        self.policy = policy
        self.name = name or f"worker-{uuid.uuid4().hex[:8]}"
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        # A request must fit inside the lease, with room for the ones before it.
        self.timeout = min(timeout, lease_seconds / 3)
        self.lanes = lanes
        self.poster = poster
        self._lane_sessions = sessionmaker(bind=session.get_bind())

    def run(self, stop: threading.Event, *, poll_seconds: float = 0.5) -> None:
        """Deliver until ``stop`` is set; lanes in flight are finished first (each lets its
        events not yet sent go back to the outbox)."""
        log.info("%s delivering webhooks in %d lanes", self.name, self.lanes)
        busy: dict[int, Future] = {}  # site id -> its lane in flight
        with ThreadPoolExecutor(self.lanes, thread_name_prefix=f"{self.name}-lane") as pool:
            while not stop.is_set():
                for site_id in [site for site, lane in busy.items() if lane.done()]:
                    busy.pop(site_id)
                claimed = 0
                if len(busy) < self.lanes:
                    try:
                        lease = self._claim(exclude=list(busy))
                    except Exception:  # keep delivering: a database blip must not end it
                        log.exception("%s: claiming events failed", self.name)
                        self.session.rollback()
                    else:
                        claimed = len(lease.events)
                        groups = list(lease.by_site().items())
                        free = self.lanes - len(busy)
                        for site_id, event_ids in groups[:free]:
                            busy[site_id] = pool.submit(self._lane, lease, site_id,
                                                        event_ids, stop)
                        # Sites beyond the free lanes go back at once: queued behind slow
                        # lanes, their lease would run out before they started.
                        self._release_all([i for _, ids in groups[free:] for i in ids],
                                          lease.token)
                if claimed:
                    continue
                if busy:
                    wait(list(busy.values()), timeout=poll_seconds,
                         return_when=FIRST_COMPLETED)
                else:
                    stop.wait(poll_seconds)

    def run_once(self) -> int:
        """Claim one batch and deliver it, every site's lane side by side; returns how many
        events were sent."""
        lease = self._claim()
        groups = lease.by_site()
        if not groups:
            return 0
        with ThreadPoolExecutor(min(self.lanes, len(groups))) as pool:
            return sum(pool.map(lambda item: self._lane(lease, *item), groups.items()))

    def _lane(self, lease: "DeliveryWorker.Lease", site_id: int, event_ids: list[int],
              stop: threading.Event | None = None) -> int:
        """Deliver one site's claimed events in order. Once one fails (or the site is
        paused) the rest wait with it, uncounted, so a site that is down costs one attempt a
        round, not one per waiting event. Events the lease may not cover any more, or that
        come after ``stop``, are let go for another round. Returns how many were sent.

        The lane reads its events and the site in one query each, and stores each delivered
        one in one UPDATE and its commit (two round trips where there were five)."""
        sent = 0
        delivered: list[tuple[int, int]] = []  # (event id, status code), not yet stored
        session = self._lane_sessions()
        try:
            site = session.get(Site, site_id)
            url, secrets = site.webhook_url, signing_secrets(site, utcnow())
            failing = site.webhook_failures != 0  # a run of failures to end on success

            def settle() -> None:
                nonlocal failing
                if delivered:
                    self._settle(session, delivered, site_id, lease.token,
                                 end_failures=failing)
                    failing = False

            events = {row.id: (row.message_id, row.payload) for row in session.execute(
                select(Event.id, Event.message_id, Event.payload)
                .where(Event.id.in_(event_ids), Event.leased_by == lease.token))}
            session.commit()  # no transaction stays open while the site answers
            for index, event_id in enumerate(event_ids):
                if ((stop is not None and stop.is_set())
                        or utcnow() + timedelta(seconds=self.timeout) >= lease.until):
                    settle()
                    for rest in event_ids[index:]:
                        self._release(session, rest, lease.token)
                    break
                if event_id not in events:  # its lease was lost meanwhile
                    continue
                try:
                    outcome = self._send(url, secrets, *events[event_id])
                except UnsafeUrl as unsafe:
                    settle()
                    self._pause(session, site_id, _short(f"webhook URL refused: {unsafe}"))
                    self._release(session, event_id, lease.token,
                                  error=_short(f"not sent: {unsafe}"))
                    due = None
                except Exception as unexpected:  # contained: its event fails, no other
                    log.exception("%s: event %s could not be delivered", self.name, event_id)
                    settle()
                    due = utcnow() + timedelta(seconds=RETRY_DELAYS[0])  # not at once again
                    self._release(session, event_id, lease.token,
                                  error=_short(f"not sent: {unexpected!r}"), due=due)
                else:
                    sent += 1
                    if outcome.delivered:
                        delivered.append((event_id, outcome.status_code))
                        if len(delivered) >= SETTLE_EVERY:
                            settle()
                        continue
                    settle()
                    self._record(session, event_id, site_id, lease.token, outcome)
                    due = session.scalar(select(Event.next_attempt_at)
                                         .where(Event.id == event_id))
                    session.commit()
                for rest in event_ids[index + 1:]:
                    self._release(session, rest, lease.token, due=due)
                break
            settle()
        except Exception:  # the database went away mid-lane: the lease returns the rest
            log.exception("%s: lane for site %s stopped", self.name, site_id)
            session.rollback()
        finally:
            session.close()
        return sent

    # -- claiming --------------------------------------------------------------------------

    @dataclass(frozen=True)
    class Lease:
        token: str
        until: datetime
        events: list[tuple[int, int]]  # (event id, site id), in delivery order

        def by_site(self) -> dict[int, list[int]]:
            """Each site's event ids, in delivery order."""
            groups: dict[int, list[int]] = {}
            for event_id, site_id in self.events:
                groups.setdefault(site_id, []).append(event_id)
            return groups

    def _claim(self, exclude: list[int] | None = None) -> "DeliveryWorker.Lease":
        """Lease up to ``batch_size`` due events of sites not in ``exclude`` (those with a
        lane in flight)."""
        now = utcnow()
        until = now + timedelta(seconds=self.lease_seconds)
        token = f"{self.name}:{uuid.uuid4().hex[:12]}"
        due = (select(Event.id).join(Site, Site.id == Event.site_id)
               .where(Event.status == DeliveryStatus.PENDING.value,
                      Event.next_attempt_at <= now,
                      or_(Event.lease_expires_at.is_(None), Event.lease_expires_at <= now),
                      Site.webhook_paused_at.is_(None))
               .order_by(Event.next_attempt_at, Event.id).limit(self.batch_size))
        if exclude:
            due = due.where(Event.site_id.not_in(exclude))
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

    # -- delivering (in a lane, with the lane's session) -----------------------------------

    def _send(self, url: str, secrets: list[str], message_id: str,
              payload: dict) -> Outcome:
        """POST one event, signed; what its answer means. Raises :class:`UnsafeUrl` for a
        URL that may not be called (no other error: the network's become outcomes)."""
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        headers = webhook_headers(secrets, message_id, int(utcnow().timestamp()), body)
        response = error = None
        try:
            response = self.poster(url, headers, body, policy=self.policy, timeout=self.timeout)
        except UnsafeUrl:
            raise
        except OSError as failure:
            error = failure
        return classify(response, error, utcnow())

    def _settle(self, session: Session, delivered: list[tuple[int, int]], site_id: int,
                token: str, *, end_failures: bool) -> None:
        """Store delivered events in one UPDATE per status code (and end the site's run of
        failures if it had one), unless their lease was lost meanwhile; empties
        ``delivered``."""
        now = utcnow()
        codes: dict[int, list[int]] = {}
        for event_id, code in delivered:
            codes.setdefault(code, []).append(event_id)
        stored = 0
        for code, ids in codes.items():
            stored += session.execute(
                update(Event).where(Event.id.in_(ids), Event.leased_by == token)
                .values(status=DeliveryStatus.DELIVERED.value, delivered_at=now,
                        attempts=Event.attempts + 1, last_status_code=code, last_error=None,
                        next_attempt_at=None, leased_by=None, lease_expires_at=None)
                .execution_options(synchronize_session=False)).rowcount
        # Only when there is a run to end: every delivery rewriting the site's row would
        # make parallel workers queue on it.
        if end_failures:
            session.execute(update(Site).where(Site.id == site_id, Site.webhook_failures != 0)
                            .values(webhook_failures=0))
        session.commit()
        if stored < len(delivered):
            log.warning("%s: lease on %d delivered event(s) lost before they were stored",
                        self.name, len(delivered) - stored)
        delivered.clear()

    def _record(self, session: Session, event_id: int, site_id: int, token: str,
                outcome: Outcome) -> None:
        """Store the attempt's outcome, unless the lease was lost meanwhile."""
        now = utcnow()
        event = session.scalar(select(Event).where(Event.id == event_id,
                                                   Event.leased_by == token))
        if event is None:
            session.rollback()
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
            session.execute(update(Site).where(Site.id == site_id, Site.webhook_failures != 0)
                            .values(webhook_failures=0))
        else:
            delay = next_delay(event.attempts, outcome.retry_after) if outcome.retry else None
            if delay is None:
                event.status, event.next_attempt_at = DeliveryStatus.FAILED.value, None
            else:
                event.next_attempt_at = now + timedelta(seconds=delay)
            self._count_failure(session, site_id, gone=outcome.gone)
        session.commit()

    def _count_failure(self, session: Session, site_id: int, *, gone: bool) -> None:
        session.execute(update(Site).where(Site.id == site_id)
                        .values(webhook_failures=Site.webhook_failures + 1))
        failures = session.scalar(select(Site.webhook_failures).where(Site.id == site_id))
        if gone:
            self._pause(session, site_id, "the endpoint answered 410 Gone: disabled until "
                        "resumed", commit=False)
        elif failures >= PAUSE_AFTER_FAILURES:
            self._pause(session, site_id, f"{failures} failed attempts in a row", commit=False)

    def _pause(self, session: Session, site_id: int, reason: str, *,
               commit: bool = True) -> None:
        session.execute(update(Site).where(Site.id == site_id, Site.webhook_paused_at.is_(None))
                        .values(webhook_paused_at=utcnow(), webhook_pause_reason=reason))
        log.warning("site %s: webhook deliveries paused: %r", site_id, reason)
        if commit:
            session.commit()

    def _release_all(self, event_ids: list[int], token: str) -> None:
        """Give leased events back unattempted, in one statement (the claim's session)."""
        if event_ids:
            self.session.execute(update(Event).where(Event.id.in_(event_ids),
                                                     Event.leased_by == token)
                                 .values(leased_by=None, lease_expires_at=None)
                                 .execution_options(synchronize_session=False))
            self.session.commit()

    def _release(self, session: Session, event_id: int, token: str, *,
                 error: str | None = None, due: datetime | None = None) -> None:
        """Give a leased event back unattempted (due at ``due`` if given)."""
        values: dict = {"leased_by": None, "lease_expires_at": None}
        if error is not None:
            values["last_error"] = error
        if due is not None:
            values["next_attempt_at"] = due
        session.execute(update(Event).where(Event.id == event_id, Event.leased_by == token)
                        .values(**values).execution_options(synchronize_session=False))
        session.commit()


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

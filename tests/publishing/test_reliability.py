"""Proof of reliability: webhooks reach a real receiver that fails, goes down, throttles and
disappears, and a worker killed in the middle of a batch loses nothing.

The receiver is what a careful host site runs: a threaded HTTP server on 127.0.0.1 that checks
every message with the reference library (``standardwebhooks``) and keeps a dedupe store keyed
by webhook-id, so a message that arrives twice (delivery is at least once) is acknowledged
again but applied once. It counts everything, so each test can say how many times an event
was sent, accepted and applied.

Workers run in this process (``DeliveryWorker`` on ``db.session``) where a test steps through
retry rounds, and as ``flask --app wsgi worker`` subprocesses where a test kills one or runs
several at once. Every test runs on SQLite and on PostgreSQL (``TEST_DATABASE_URL``), except
the one with several workers at once, which is PostgreSQL's alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from service.container import services
from service.extensions import db, utcnow
from service.publishing.models import DeliveryStatus, Event
from service.publishing.worker import PAUSE_AFTER_FAILURES, RETRY_DELAYS, DeliveryWorker
from service.sites.models import Site
from tests.conftest import ROOT, SiteKey, make_site, submit

BIN = Path(sys.executable).parent
PENDING, DELIVERED, FAILED = (DeliveryStatus.PENDING.value, DeliveryStatus.DELIVERED.value,
                              DeliveryStatus.FAILED.value)


# -- the receiver ----------------------------------------------------------------------------

class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a sender killed mid-request leaves a broken pipe: expected here, not news


class Receiver:
    """A host site's webhook endpoint on 127.0.0.1, served by threads of this process.

    Failure modes, changeable at any time: ``fail_every`` (answer 500 to every n-th request,
    before applying it), ``delay`` (take this long over each request), ``answer`` (answer
    every request with this status and headers, e.g. 429 with Retry-After, or 410), and
    :meth:`go_down` / :meth:`come_up` (the port refuses connections in between).
    """

    def __init__(self) -> None:
        self.secret: str | None = None
        self.lock = threading.Lock()
        self.requests = 0                   # every POST that reached the handler
        self.bad_signatures = 0             # refused by the reference library
        self.received: Counter[str] = Counter()    # webhook-id: correctly signed requests
        self.accepted: Counter[str] = Counter()    # webhook-id: 2xx answers given
        self.duplicates: Counter[str] = Counter()  # webhook-id: acknowledged, not re-applied
        self.applied: dict[str, dict] = {}  # the dedupe store: webhook-id -> payload, once
        self.arrivals: dict[str, list[float]] = {}  # webhook-id -> time.time() of each request
        self.fail_every = 0
        self.delay = 0.0
        self.answer: tuple[int, dict[str, str]] | None = None
        self.port = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def come_up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                status, headers = receiver.handle(
                    {name.lower(): value for name, value in self.headers.items()}, body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = _Server(("127.0.0.1", self.port), Handler)  # the same port again
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    def go_down(self) -> None:
        """Close the listening socket: connections are refused until :meth:`come_up`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = None

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        with self.lock:
            self.requests += 1
            fail = bool(self.fail_every) and self.requests % self.fail_every == 0
            answer, delay = self.answer, self.delay
        arrived = time.time()
        if delay:
            time.sleep(delay)
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            with self.lock:
                self.bad_signatures += 1
            return 401, {}
        message_id = headers["webhook-id"]
        with self.lock:
            self.received[message_id] += 1
            self.arrivals.setdefault(message_id, []).append(arrived)
        if answer is not None:
            return answer
        if fail:
            return 500, {}
        with self.lock:  # apply once; a repeat is acknowledged (so it stops) but not applied
            if message_id in self.applied:
                self.duplicates[message_id] += 1
            else:
                self.applied[message_id] = payload
            self.accepted[message_id] += 1
        return 204, {}


@pytest.fixture
def app_config(app_config):
    """Deliveries may go to the receiver on 127.0.0.1 over plain http."""
    return {**app_config, "WEBHOOK_ALLOW_HTTP": "1", "WEBHOOK_ALLOW_PRIVATE": "1"}


@pytest.fixture
def receiver():
    receiver = Receiver()
    receiver.come_up()
    try:
        yield receiver
    finally:
        receiver.go_down()


# -- helpers ---------------------------------------------------------------------------------

def hooked_site(app, receiver: Receiver, name: str = "bugle") -> SiteKey:
    """A site whose webhook is the receiver; the receiver learns the site's secret."""
    site = make_site(app, name, webhook_url=receiver.url)
    with app.app_context():
        receiver.secret = db.session.get(Site, site.id).webhook_secret
    return site


def submit_many(client, site: SiteKey, count: int) -> list[int]:
    """``count`` comments by different readers: one event each."""
    return [submit(client, site, f"Comment {i}: the harbour plans need a second look.",
                   author=f"reader-{i}", article=f"a-{i % 3}")["id"] for i in range(count)]


def events(app, site_id: int) -> list[Event]:
    """The site's events as the database holds them now (read in a fresh session)."""
    with app.app_context():
        rows = list(db.session.scalars(select(Event).where(Event.site_id == site_id)
                                       .order_by(Event.id)))
        db.session.expunge_all()
    return rows


def site_row(app, site_id: int) -> Site:
    with app.app_context():
        site = db.session.get(Site, site_id)
        db.session.expunge(site)
    return site


def in_process_worker(app) -> DeliveryWorker:
    """Call inside an app context."""
    return DeliveryWorker(db.session, app.config["MODERATION_SETTINGS"].webhook_policy,
                          name="in-process", batch_size=10, timeout=5)


def deliver_due(app) -> int:
    """One retry round: the worker takes batches until nothing is due; events handled."""
    total = 0
    with app.app_context():
        worker = in_process_worker(app)
        while handled := worker.run_once():
            total += handled
    return total


def time_passes(app) -> None:
    """Stands in for the passing of time, so the tests do not sleep through real backoff:
    every waiting event is made due now. (retry_round checks the waits the worker chose,
    against RETRY_DELAYS, before it moves time on.)"""
    with app.app_context():
        db.session.execute(update(Event).where(Event.status == PENDING)
                           .values(next_attempt_at=utcnow()))
        db.session.commit()


def wait_until(condition: Callable[[], bool], timeout: float, message: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message())
        time.sleep(0.02)


def assert_each_applied_exactly_once(receiver: Receiver, rows: list[Event]) -> None:
    """Every event arrived, correctly signed, and the dedupe store applied each once, with
    the comment it announces."""
    assert receiver.bad_signatures == 0
    assert set(receiver.applied) == {event.message_id for event in rows}
    for event in rows:
        payload = receiver.applied[event.message_id]
        assert (payload["type"], payload["data"]["id"]) == (event.type, event.comment_id)


@pytest.fixture
def workers(app, app_config, tmp_path):
    """Starts ``flask --app wsgi worker`` subprocesses; every one still alive is killed at
    the end, whatever the test's outcome. Depends on ``app`` so it is torn down first (a
    worker holding a PostgreSQL connection would block the drop of the tables)."""
    started: list[tuple[subprocess.Popen, Path]] = []
    env = {**os.environ, **app_config, "LOG_LEVEL": "INFO"}

    def start(name: str, *options: str) -> subprocess.Popen:
        log = tmp_path / f"{name}.log"
        with open(log, "w") as handle:
            process = subprocess.Popen(
                [str(BIN / "flask"), "--app", "wsgi", "worker", "--name", name,
                 "--poll-seconds", "0.1", *options],
                cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
        started.append((process, log))
        return process

    start.logs = lambda: "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}"  # type: ignore
                                   for _, log in started)
    try:
        yield start
    finally:
        for process, _ in started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM: the worker finishes the batch in flight, then exits."""
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0


# -- the proofs ------------------------------------------------------------------------------

EVENTS = 30


def retry_round(app, site_id: int) -> tuple[list[Event], list[Event]]:
    """Make every waiting event due (time passes), let the worker deliver what is due, and
    check the wait it chose for each event it tried in vain: RETRY_DELAYS[attempts - 1] with
    jitter (the other events of the site wait with that one, unattempted). Returns the events
    after the round, and those attempted in vain in it."""
    before = {event.id: event.attempts for event in events(app, site_id)}
    time_passes(app)
    started = utcnow()
    deliver_due(app)
    ended = utcnow()
    rows = events(app, site_id)
    failed = [e for e in rows if e.status == PENDING and e.attempts > before[e.id]]
    for event in failed:
        base = RETRY_DELAYS[event.attempts - 1]
        assert started + timedelta(seconds=base * 0.8) <= event.next_attempt_at \
            <= ended + timedelta(seconds=base * 1.2)
    assert all(e.status in (PENDING, DELIVERED) for e in rows)  # none given up on
    return rows, failed


def test_a_receiver_failing_half_its_requests_and_down_for_a_while_gets_every_event_once(
        app, client, receiver):
    site = hooked_site(app, receiver)
    submit_many(client, site, EVENTS)
    assert [e.status for e in events(app, site.id)] == [PENDING] * EVENTS

    # Up, but every other request fails with 500 (before the receiver applies it).
    receiver.fail_every = 2
    for _ in range(3):
        rows, failed = retry_round(app, site.id)
        assert failed and all(e.last_status_code == 500 for e in failed)
    assert 0 < len(receiver.applied) < EVENTS

    # Down: connections refused, for three retry rounds. The worker tries each site once
    # a batch while it fails, so this stays under PAUSE_AFTER_FAILURES.
    receiver.go_down()
    requests_before, refused = receiver.requests, 0
    for _ in range(3):
        rows, failed = retry_round(app, site.id)
        assert failed and all(e.last_status_code is None and "refused" in e.last_error.lower()
                              for e in failed)
        refused += len(failed)
    assert receiver.requests == requests_before
    assert site_row(app, site.id).webhook_paused_at is None

    # It recovers, still failing every other request: rounds until nothing waits.
    receiver.come_up()
    for _ in range(200):
        rows, _ = retry_round(app, site.id)
        if all(e.status == DELIVERED for e in rows):
            break
    assert [e.status for e in rows] == [DELIVERED] * EVENTS
    assert_each_applied_exactly_once(receiver, rows)
    # The worker sent again only what the receiver had refused: no duplicates.
    assert receiver.duplicates == Counter()
    assert set(receiver.accepted.values()) == {1}
    assert sum(receiver.received.values()) == receiver.requests \
        == sum(e.attempts for e in rows) - refused
    site_now = site_row(app, site.id)
    assert (site_now.webhook_paused_at, site_now.webhook_failures) == (None, 0)


def test_a_long_outage_pauses_the_site_and_resuming_delivers_every_event_once(
        app, client, receiver):
    count = 25
    site = hooked_site(app, receiver)
    submit_many(client, site, count)
    receiver.go_down()
    for rounds in range(1, PAUSE_AFTER_FAILURES + 1):
        retry_round(app, site.id)
        if site_row(app, site.id).webhook_paused_at is not None:
            break
    paused = site_row(app, site.id)
    assert paused.webhook_paused_at is not None, f"not paused after {rounds} rounds"
    assert paused.webhook_pause_reason == f"{PAUSE_AFTER_FAILURES} failed attempts in a row"
    rows = events(app, site.id)
    assert all(e.status == PENDING for e in rows)  # nothing lost, nothing given up on
    assert sum(e.attempts for e in rows) == PAUSE_AFTER_FAILURES

    # Up again, but the site stays paused: nothing is attempted until an admin resumes.
    receiver.come_up()
    time_passes(app)
    assert deliver_due(app) == 0 and receiver.requests == 0
    with app.app_context():
        services(app).publishing.resume(db.session.get(Site, site.id))
    assert deliver_due(app) == count
    rows = events(app, site.id)
    assert [e.status for e in rows] == [DELIVERED] * count
    assert_each_applied_exactly_once(receiver, rows)
    assert receiver.duplicates == Counter()


def test_a_worker_killed_with_sigkill_in_the_middle_of_a_batch_loses_nothing(
        app, client, receiver, workers):
    # The lease must be longer than the worker's request timeout (10 s): the worker sends
    # only while its lease covers a whole timeout, and lets go of the rest of a batch.
    batch, count, lease = 10, 20, "14"
    site = hooked_site(app, receiver)
    submit_many(client, site, count)
    receiver.delay = 0.25  # a slow site: the kill lands while the batch is being delivered
    doomed = workers("doomed", "--batch-size", str(batch), "--lease-seconds", lease)
    wait_until(lambda: len(receiver.applied) >= 2, 30,
               lambda: "the first worker delivered nothing\n" + workers.logs())
    doomed.send_signal(signal.SIGKILL)
    assert doomed.wait(timeout=10) == -signal.SIGKILL
    rows = events(app, site.id)
    orphaned = {e.message_id: e.lease_expires_at.timestamp() for e in rows
                if e.status == PENDING and (e.leased_by or "").startswith("doomed:")}
    assert orphaned, "the kill did not land in the middle of a batch"
    assert len(orphaned) < batch

    # A second worker delivers the rest at once, and the orphans when their lease runs out.
    time.sleep(0.5)  # what the dead worker had sent reaches the receiver
    survivor_started = time.time()
    survivor = workers("survivor", "--batch-size", str(batch), "--lease-seconds", lease)
    wait_until(lambda: all(e.status == DELIVERED for e in events(app, site.id)), 30,
               lambda: f"{[(e.id, e.status, e.leased_by) for e in events(app, site.id)]}\n"
                       + workers.logs())
    stop(survivor)
    rows = events(app, site.id)
    assert len(rows) == count
    assert_each_applied_exactly_once(receiver, rows)
    # The only message that may arrive twice is the one in flight at the kill (applied by
    # the receiver, but its outcome never stored): one worker sends one message at a time.
    assert sum(receiver.duplicates.values()) <= 1
    assert set(receiver.duplicates) <= set(orphaned)
    assert set(receiver.accepted.values()) <= {1, 2}
    # No worker took an orphan before the dead worker's lease ran out.
    for message_id, expires in orphaned.items():
        assert all(arrived >= expires - 0.05 for arrived in receiver.arrivals[message_id]
                   if arrived > survivor_started), message_id


def test_three_workers_at_once_deliver_each_event_exactly_once(
        app, app_config, client, receiver, workers):
    if not app_config["DATABASE_URL"].startswith("postgresql"):
        pytest.skip("several workers at once is for PostgreSQL (one worker on SQLite)")
    count = 60
    site = hooked_site(app, receiver)
    publishing = services(app).publishing
    with app.app_context():  # the events wait while the workers start
        publishing.pause(db.session.get(Site, site.id), "until the workers are up")
    submit_many(client, site, count)
    receiver.delay = 0.05
    started = [workers(f"w{i}", "--batch-size", "5", "--lease-seconds", "30")
               for i in range(3)]
    wait_until(lambda: workers.logs().count("delivering webhooks") == 3, 60,
               lambda: "the workers did not start\n" + workers.logs())
    with app.app_context():
        publishing.resume(db.session.get(Site, site.id))

    holders: set[str] = set()

    def all_delivered() -> bool:
        rows = events(app, site.id)
        holders.update(e.leased_by.split(":")[0] for e in rows if e.leased_by)
        return all(e.status == DELIVERED for e in rows)

    wait_until(all_delivered, 30, lambda: "not all delivered\n" + workers.logs())
    for process in started:
        stop(process)
    rows = events(app, site.id)
    assert_each_applied_exactly_once(receiver, rows)
    assert len(receiver.applied) == count
    assert receiver.duplicates == Counter()
    assert receiver.accepted == Counter({e.message_id: 1 for e in rows})
    assert sum(receiver.received.values()) == count  # no event was even sent twice
    assert len(holders) >= 2, f"the workers did not share the work: {holders}"


def test_retry_after_is_honoured(app, client, receiver):
    site = hooked_site(app, receiver)
    submit_many(client, site, 1)
    receiver.answer = (429, {"Retry-After": "120"})
    before = utcnow()
    assert deliver_due(app) == 1
    (event,) = events(app, site.id)
    assert (event.status, event.attempts, event.last_status_code) == (PENDING, 1, 429)
    # 120 s, not the first backoff step (5 s): the site asked for it.
    assert before + timedelta(seconds=120) <= event.next_attempt_at \
        <= utcnow() + timedelta(seconds=120 * 1.2)
    assert deliver_due(app) == 0 and receiver.requests == 1
    assert site_row(app, site.id).webhook_paused_at is None


def test_gone_pauses_the_site_and_later_events_wait_until_it_is_resumed(app, client, receiver):
    site = hooked_site(app, receiver)
    submit_many(client, site, 1)
    receiver.answer = (410, {})
    assert deliver_due(app) == 1
    paused = site_row(app, site.id)
    assert paused.webhook_paused_at is not None and "410" in paused.webhook_pause_reason
    (gone,) = events(app, site.id)
    assert (gone.status, gone.last_status_code) == (FAILED, 410)  # not retried

    receiver.answer = None
    submit(client, site, "A later comment, after the endpoint was disabled.", author="late-1")
    submit(client, site, "Another later comment, still disabled.", author="late-2")
    time_passes(app)
    assert deliver_due(app) == 0 and receiver.requests == 1
    later = [e for e in events(app, site.id) if e.id != gone.id]
    assert [(e.status, e.attempts) for e in later] == [(PENDING, 0)] * 2

    with app.app_context():
        services(app).publishing.resume(db.session.get(Site, site.id))
    assert deliver_due(app) == 2
    later = [e for e in events(app, site.id) if e.id != gone.id]
    assert [e.status for e in later] == [DELIVERED] * 2
    assert_each_applied_exactly_once(receiver, later)


def test_a_worker_runs_only_the_loops_it_is_given(app, client, receiver, workers):
    """`--only jobs --only retention` delivers nothing: delivery can run in a process of its
    own, and another worker then delivers every event once."""
    site = hooked_site(app, receiver)
    submit_many(client, site, 3)
    others = workers("no-delivery", "--only", "jobs", "--only", "retention")
    wait_until(lambda: "running: jobs, retention" in workers.logs(), 30,
               lambda: "the worker did not start\n" + workers.logs())
    time.sleep(1)  # ten polls' worth: a delivery loop would have sent by now
    assert receiver.requests == 0
    stop(others)
    deliverer = workers("delivery-only", "--only", "delivery")
    wait_until(lambda: all(e.status == DELIVERED for e in events(app, site.id)), 30,
               lambda: workers.logs())
    stop(deliverer)
    assert_each_applied_exactly_once(receiver, events(app, site.id))

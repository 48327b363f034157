"""Webhook delivery: deliveries per second with 1 and 4 workers, and approve-to-delivered latency.

    python -m bench.webhooks [--events N] [--approvals N] [--rate R] [--no-postgres]
    (make bench-webhooks; not part of make bench)

A local receiver (a ThreadingHTTPServer in its own process, answering 204 and noting when each
message arrives) stands in for a host site. Its own capacity is measured first by a plain
client that signs and POSTs the same bodies, one connection a request as the worker makes
them, with no database: the peer every worker figure is set against.

Throughput: N events (2,000) are written pending, as lifecycle writes them, for comments held
for review; the site is paused while ``flask --app wsgi worker`` subprocesses start, then
resumed, and the time until every event is delivered in the database gives deliveries per
second. PostgreSQL with 1 and 4 workers; SQLite with 1 (one worker is what SQLite is for).

Latency: with 1 worker running (default poll 0.5 s; 0.2 s as well, for comparison), 200 held
comments are approved one by one through the moderation API (POST
/v1/moderation/comments/<id>/decision, in-process test client) at a steady 20 a second; the
receiver notes when each comment's ``comment.approved`` arrives, and the approve-to-delivered
latency is that arrival minus the moment the decision's response returned (the decision and
its event committed).

PostgreSQL is BENCH_DATABASE_URL (default a local ``bench_webhooks``): the database is dropped
and created anew on every run and migrated with ``flask db upgrade``; a database holding
tables this benchmark did not make is never dropped. SQLite is a temporary file.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

from bench.common import ROOT, percentile
from service.container import services

BIN = Path(sys.executable).parent
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_webhooks"
MARKER = "bench_webhooks_marker"  # a table saying the database is this benchmark's own
SITE = "bench-site"
MODERATOR, PASSWORD = "bench-moderator", "bench webhooks password, not secret"
WORKER_POLL = "0.1"  # throughput runs: how soon an idle worker sees the resumed site


# -- the receiver (its own process) ----------------------------------------------------------

def serve_receiver(port: int) -> None:
    """POST anything: 204, noting the arrival; GET /stats: what arrived; POST /reset."""
    lock = threading.Lock()
    state = {"requests": 0, "ids": set(), "arrivals": {}}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            arrived = time.time()
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if self.path == "/reset":
                with lock:
                    state.update(requests=0, ids=set(), arrivals={})
            else:
                message_id = self.headers.get("webhook-id", "")
                try:
                    payload = json.loads(body)
                    key = f"{payload['type']}:{payload['data']['id']}"
                except (ValueError, KeyError, TypeError):
                    key = None
                with lock:
                    state["requests"] += 1
                    state["ids"].add(message_id)
                    if key is not None:
                        state["arrivals"].setdefault(key, arrived)
            self.send_response(204)
            self.end_headers()

        def do_GET(self) -> None:
            with lock:
                body = json.dumps({"requests": state["requests"], "distinct": len(state["ids"]),
                                   "arrivals": state["arrivals"]}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.webhooks", "--serve-receiver", str(self.port)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True)
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the receiver did not start")
        self.url = f"http://127.0.0.1:{self.port}/hooks"

    def _call(self, method: str, path: str) -> dict:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=b"" if method == "POST" else None)
            answer = connection.getresponse()
            data = answer.read()
        finally:
            connection.close()
        return json.loads(data) if data else {}

    def reset(self) -> None:
        self._call("POST", "/reset")

    def stats(self) -> dict:
        return self._call("GET", "/stats")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the database and the app ----------------------------------------------------------------

def prepare_postgres(url: str) -> bool:
    """Drop and create the benchmark's database; False when it holds tables of others."""
    import psycopg
    from sqlalchemy.engine import make_url
    parsed = make_url(url)
    name = parsed.database
    libpq = parsed.set(drivername="postgresql")
    try:
        with psycopg.connect(libpq.render_as_string(hide_password=False)) as connection:
            tables = {table for (table,) in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
    except psycopg.OperationalError:
        tables = set()  # no such database yet
    if tables and MARKER not in tables:
        return False
    admin = libpq.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return True


def app_env(url: str, scratch: Path) -> dict[str, str]:
    return {"APP_ENV": "testing", "DATABASE_URL": url, "LOG_LEVEL": "WARNING",
            "SECRET_KEY": "bench-webhooks-secret-key-not-for-production",
            "INSTANCE_PATH": str(scratch), "MODEL_DIR": str(scratch / "models"),
            "WEBHOOK_ALLOW_HTTP": "1", "WEBHOOK_ALLOW_PRIVATE": "1"}


def make_app(url: str, scratch: Path):
    """Migrate the empty database (``flask db upgrade``, as a deployment does) and build the
    app that seeds it and approves comments."""
    from service import create_app
    from service.extensions import db
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT,
                   env={**os.environ, **app_env(url, scratch)}, check=True, capture_output=True)
    app = create_app(app_env(url, scratch))
    with app.app_context():
        if url.startswith("postgresql"):
            db.session.execute(db.text(f"CREATE TABLE {MARKER} (created_at timestamptz "
                                       "DEFAULT now())"))
            db.session.commit()
    return app


def seed(app, webhook_url: str, count: int) -> tuple[list[int], str]:
    """``count`` comments held for review, each with its pending ``comment.held`` event as
    lifecycle writes it; returns the comment ids and a moderator's API token."""
    from classifier import LABELS
    from service.comments.lifecycle import record_submission
    from service.comments.models import Article, Author, Comment, CommentStatus
    from service.extensions import db
    with app.app_context():
        site = services(app).sites.create(SITE, webhook_url=webhook_url).site
        articles = [Article(site_id=site.id, external_id=f"article-{i}", title=f"Article {i}")
                    for i in range(20)]
        authors = [Author(site_id=site.id, external_id=f"reader-{i}", name=f"Reader {i}")
                   for i in range(200)]
        db.session.add_all(articles + authors)
        db.session.flush()
        ids = []
        for i in range(count):
            text = f"Comment {i}: the council should publish the harbour plan's numbers."
            comment = Comment(site_id=site.id, article=articles[i % 20], author=authors[i % 200],
                              content_hash=hashlib.sha256(text.encode()).hexdigest(), text=text,
                              score=0.6, scores={label: 0.1 for label in LABELS}
                              | {"toxicity": 0.6}, reasons=[], model_version="bench",
                              language="en", top_label="toxicity")
            record_submission(db.session, comment, CommentStatus.PENDING_REVIEW)
            ids.append(comment.id)
            if i % 200 == 199:
                db.session.commit()
        db.session.commit()
        accounts = services(app).accounts
        accounts.create(MODERATOR, PASSWORD, "moderator", (SITE,))
        token = accounts.issue_token(MODERATOR)
        db.session.remove()
    return ids, token


def signed_bodies(app) -> list[tuple[dict[str, str], bytes]]:
    """Every event's body and headers, as the worker builds them: the plain client's load."""
    from sqlalchemy import select

    from service.extensions import db, utcnow
    from service.publishing.models import Event
    from service.publishing.signing import webhook_headers
    from service.sites.models import Site
    with app.app_context():
        secret = db.session.scalar(select(Site.webhook_secret).where(Site.name == SITE))
        out = []
        for message_id, payload in db.session.execute(
                select(Event.message_id, Event.payload).order_by(Event.id)):
            body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
            out.append((webhook_headers([secret], message_id, int(utcnow().timestamp()), body),
                        body))
        db.session.remove()
    return out


def set_paused(app, paused: bool) -> None:
    from sqlalchemy import update

    from service.extensions import db, utcnow
    from service.sites.models import Site
    with app.app_context():
        db.session.execute(update(Site).where(Site.name == SITE).values(
            webhook_paused_at=utcnow() if paused else None,
            webhook_pause_reason="benchmark: workers starting" if paused else None,
            webhook_failures=0))
        db.session.commit()
        db.session.remove()


def requeue_all(app) -> int:
    """Every event pending and due now, as if just written."""
    from sqlalchemy import func, select, update

    from service.extensions import db, utcnow
    from service.publishing.models import DeliveryStatus, Event
    with app.app_context():
        db.session.execute(update(Event).values(
            status=DeliveryStatus.PENDING.value, attempts=0, next_attempt_at=utcnow(),
            leased_by=None, lease_expires_at=None, last_status_code=None, last_error=None,
            delivered_at=None))
        db.session.commit()
        count = db.session.scalar(select(func.count()).select_from(Event))
        db.session.remove()
    return count


def status_counts(app) -> dict[str, int]:
    from sqlalchemy import func, select

    from service.extensions import db
    from service.publishing.models import Event
    with app.app_context():
        counts = dict(db.session.execute(select(Event.status, func.count())
                                         .group_by(Event.status)).all())
        db.session.remove()
    return counts


# -- workers ---------------------------------------------------------------------------------

class Workers:
    """``flask --app wsgi worker`` subprocesses, stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, env: dict[str, str], scratch: Path, count: int, *options: str) -> None:
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []
        env = {**os.environ, **env, "LOG_LEVEL": "INFO"}
        for i in range(count):
            log = scratch / f"worker-{len(os.listdir(scratch))}-{i}.log"
            with open(log, "w") as handle:
                self.processes.append(subprocess.Popen(
                    [str(BIN / "flask"), "--app", "wsgi", "worker", "--name", f"bench-{i}",
                     *options], cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT))
            self.logs.append(log)

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not all("delivering webhooks" in log.read_text() for log in self.logs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                raise RuntimeError("workers did not start:\n" + self.tail())
            time.sleep(0.05)

    def tail(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-2000:]}" for log in self.logs)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# -- measurements ----------------------------------------------------------------------------

@dataclass
class Throughput:
    seconds: float
    delivered: int
    requests: int
    distinct: int

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds


def plain_client(receiver: Receiver, bodies: list[tuple[dict[str, str], bytes]],
                 concurrency: int) -> float:
    """The receiver's capacity: the same signed bodies POSTed with no database, one
    connection a request (as the worker does); posts a second."""
    def post(item: tuple[dict[str, str], bytes]) -> int:
        headers, body = item
        connection = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=30)
        try:
            connection.request("POST", "/hooks", body=body, headers=headers)
            answer = connection.getresponse()
            answer.read()
            return answer.status
        finally:
            connection.close()

    receiver.reset()
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        statuses = list(pool.map(post, bodies))
    elapsed = time.perf_counter() - started
    if set(statuses) != {204} or receiver.stats()["requests"] != len(bodies):
        raise RuntimeError("the plain client's posts did not all arrive")
    return len(bodies) / elapsed


def throughput(app, env: dict[str, str], scratch: Path, receiver: Receiver,
               workers: int) -> Throughput:
    total = requeue_all(app)
    set_paused(app, True)
    receiver.reset()
    with Workers(env, scratch, workers, "--poll-seconds", WORKER_POLL) as running:
        running.wait_ready()
        started = time.perf_counter()
        set_paused(app, False)
        deadline = started + 600
        while status_counts(app).get("delivered", 0) < total:
            if time.perf_counter() > deadline:
                raise RuntimeError("not all delivered in 10 minutes:\n" + running.tail())
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    stats = receiver.stats()
    return Throughput(elapsed, total, stats["requests"], stats["distinct"])


@dataclass
class Latency:
    latencies_ms: list[float]
    decision_ms: list[float]


def latency(app, env: dict[str, str], scratch: Path, receiver: Receiver, token: str,
            comment_ids: list[int], rate: float, poll: str | None) -> Latency:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    receiver.reset()
    options = ("--poll-seconds", poll) if poll else ()
    approved_at: dict[int, float] = {}
    decision_ms: list[float] = []
    with Workers(env, scratch, 1, *options) as running:
        running.wait_ready()
        time.sleep(1.0)  # let the worker settle into its idle polling
        started = time.perf_counter()
        for i, comment_id in enumerate(comment_ids):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            before = time.perf_counter()
            response = client.post(f"/v1/moderation/comments/{comment_id}/decision",
                                   json={"action": "approve"}, headers=headers)
            approved_at[comment_id] = time.time()
            decision_ms.append((time.perf_counter() - before) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"approving {comment_id}: {response.status_code} "
                                   f"{response.get_data(as_text=True)}")
        deadline = time.monotonic() + 60
        while True:
            arrivals = receiver.stats()["arrivals"]
            missing = [c for c in comment_ids if f"comment.approved:{c}" not in arrivals]
            if not missing:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(missing)} approvals never arrived:\n" + running.tail())
            time.sleep(0.1)
    return Latency([(arrivals[f"comment.approved:{c}"] - approved_at[c]) * 1000
                    for c in comment_ids], decision_ms)


# -- the run ---------------------------------------------------------------------------------

def run_database(name: str, url: str, worker_counts: list[int], args, receiver: Receiver,
                 plain: dict[int, float], rows: list[str], latency_rows: list[str]) -> None:
    from service.extensions import db
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        (scratch / "models").mkdir()
        app = make_app(url, scratch)
        env = app_env(url, scratch)
        seeded = time.perf_counter()
        comment_ids, token = seed(app, receiver.url, args.events)
        print(f"  {name}: seeded {args.events:,} held comments and their events in "
              f"{time.perf_counter() - seeded:.1f} s", flush=True)
        if not plain:
            bodies = signed_bodies(app)
            for concurrency in sorted({1, *worker_counts_all(args)}):
                plain[concurrency] = plain_client(receiver, bodies, concurrency)
                print(f"  plain client, {concurrency} thread(s): "
                      f"{plain[concurrency]:,.0f} posts/s", flush=True)
        for workers in worker_counts:
            result = throughput(app, env, scratch, receiver, workers)
            senders = f"{workers} worker{'s' if workers > 1 else ''}"
            print(f"  {name}, {senders}: {result.rate:,.0f} deliveries/s "
                  f"({result.delivered:,} in {result.seconds:.2f} s)", flush=True)
            rows.append(f"| {name} | {senders} | {result.rate:,.0f} | {result.seconds:.2f} | "
                        f"{result.requests - result.delivered} | {plain[workers]:,.0f} | "
                        f"{result.rate / plain[workers]:.2f}x |")
        for poll in (None, "0.2"):
            chosen = comment_ids[:args.approvals] if poll is None \
                else comment_ids[args.approvals:2 * args.approvals]
            result = latency(app, env, scratch, receiver, token, chosen, args.rate, poll)
            label = "0.5 s (default)" if poll is None else f"{poll} s"
            lat = result.latencies_ms
            print(f"  {name}, poll {label}: p50 {percentile(lat, 50):.0f} ms, "
                  f"p99 {percentile(lat, 99):.0f} ms", flush=True)
            latency_rows.append(
                f"| {name} | {label} | {percentile(lat, 50):.0f} | {percentile(lat, 99):.0f} | "
                f"{max(lat):.0f} | {min(lat):.0f} | {percentile(result.decision_ms, 50):.1f} |")
        with app.app_context():
            db.engine.dispose()


def worker_counts_all(args) -> list[int]:
    return [1] if args.no_postgres else [1, 4]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2000, help="events delivered a run")
    parser.add_argument("--approvals", type=int, default=200,
                        help="comments approved a latency run")
    parser.add_argument("--rate", type=float, default=20.0, help="approvals a second")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--serve-receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_receiver is not None:
        serve_receiver(args.serve_receiver)
        return 0
    if args.events < 2 * args.approvals:
        parser.error("--events must be at least twice --approvals")

    databases: list[tuple[str, str, list[int]]] = []
    if not args.no_postgres:
        url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL
        if url.startswith("postgresql:"):
            url = "postgresql+psycopg:" + url[len("postgresql:"):]
        if not prepare_postgres(url):
            print(f"{url.rsplit('/', 1)[-1]} holds tables this benchmark did not make: point "
                  "BENCH_DATABASE_URL at another database")
            return 2
        databases.append(("PostgreSQL", url, [1, 4]))
    sqlite_dir = tempfile.TemporaryDirectory()
    databases.insert(0, ("SQLite", f"sqlite:///{sqlite_dir.name}/bench.db", [1]))

    print(f"Webhook delivery: {args.events:,} events to a local receiver; {os.cpu_count()} "
          f"cores, load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    receiver = Receiver()
    rows: list[str] = []
    latency_rows: list[str] = []
    plain: dict[int, float] = {}
    try:
        for name, url, counts in databases:
            run_database(name, url, counts, args, receiver, plain, rows, latency_rows)
    finally:
        receiver.stop()
        sqlite_dir.cleanup()

    print(f"\nThroughput: {args.events:,} pending events, `flask --app wsgi worker` (batch 20, "
          f"lease 60 s, poll {WORKER_POLL} s) against a receiver answering 204 (a "
          "ThreadingHTTPServer in its own process); from the site's resume to the last event "
          "marked delivered in the database. The peer is the receiver's own capacity: a plain "
          "client signing and POSTing the same bodies, one connection a request, as many "
          "threads as workers, no database.")
    print("| database | senders | deliveries/s | seconds | duplicates | plain client posts/s "
          "| of plain |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nApprove-to-delivered latency: {args.approvals} held comments approved one by one "
          f"at {args.rate:g}/s through POST /v1/moderation/comments/<id>/decision (in-process "
          "test client), 1 worker; from the decision's response (committed, with its event) "
          "to the arrival of comment.approved at the receiver.")
    print("| database | worker poll | p50 ms | p99 ms | max ms | min ms | decision request "
          "p50 ms |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(latency_rows))
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sustained load: comments at a steady rate for minutes, webhooks delivered meanwhile, then
proof that what was acknowledged is exactly what was stored and announced.

    python -m bench.load [--rate 50] [--seconds 180] [--threads 64]
                         [--database-url URL] [--model-dir DIR]
    (make bench-load; not part of make bench)

gunicorn (`-c gunicorn.conf.py`, 2 gevent workers) serves the service on PostgreSQL, in a
database of the benchmark's own (BENCH_LOAD_DATABASE_URL, default a local ``bench_load``,
dropped and created anew on every run, migrated with ``flask db upgrade``). The site has a
webhook to a local receiver (bench.webhooks' receiver, its own process, answering 204), and
one delivery worker (``flask --app wsgi worker``, default options) runs beside gunicorn.

Arrivals follow an open model: request i is due at start + i / rate whether or not earlier
ones have been answered, and is sent by a pool of threads (one connection a request, as a
host site's backend makes them; loopback only). Latency runs from when a request was due,
so time spent waiting for a free thread counts (no coordinated omission). Each comment
carries a unique client_id; texts are the Jigsaw test.c comments (bench.common).

Then the database is checked against the answers: each 2xx answer's client_id is stored
once, under the id the answer gave; each stored comment has exactly one event (its
decision: comment.approved, .held or .rejected, matching its status) and one audit entry;
nothing else is stored. The run waits until the worker has delivered every event, and
reports how long after its answer each comment's decision reached the receiver.

The model is MODEL_DIR (or --model-dir) when given, else one trained from training_data/
into a scratch folder (about a minute).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bench.common import ROOT, percentile, sample_texts
from bench.webhooks import Receiver, free_port

BIN = Path(sys.executable).parent
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_load"
MARKER = "bench_load_marker"  # a table saying the database is this benchmark's own
SITE = "bench-load"
SUBMIT_EVENTS = {"approved": "comment.approved", "pending_review": "comment.held",
                 "rejected": "comment.rejected"}


@dataclass
class Outcome:
    client_id: str
    status: int | None       # None: no answer (connection error or timeout)
    comment_id: int | None
    latency_ms: float        # from when the request was due to its answer
    answered_at: float       # time.time() of the answer
    error: str | None = None


# -- the database ----------------------------------------------------------------------------

def libpq(url: str, database: str | None = None) -> str:
    from sqlalchemy.engine import make_url
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def prepare_postgres(url: str) -> None:
    """Drop and create the benchmark's database; refuse one holding tables of others."""
    import psycopg
    from sqlalchemy.engine import make_url
    name = make_url(url).database
    try:
        with psycopg.connect(libpq(url)) as connection:
            tables = {table for (table,) in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
    except psycopg.OperationalError:
        tables = set()  # no such database yet
    if tables and MARKER not in tables:
        raise SystemExit(f"{name} holds tables this benchmark did not make: not dropping it")
    with psycopg.connect(libpq(url, "postgres"), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def flask(env: dict[str, str], *args: str) -> str:
    return subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env,
                          check=True, capture_output=True, text=True).stdout


# -- the service -----------------------------------------------------------------------------

def start_gunicorn(env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
        env={**env, "PORT": str(port), "WEB_CONCURRENCY": "2"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not become ready")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- the load --------------------------------------------------------------------------------

def post(port: int, headers: dict[str, str], payload: dict, due: float) -> Outcome:
    """One submission on a connection of its own; ``due`` is perf_counter() when it was due."""
    body = json.dumps(payload)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("POST", "/v1/comments", body,
                               {"Content-Type": "application/json", **headers})
            answer = connection.getresponse()
            data = answer.read()
        finally:
            connection.close()
    except OSError as error:
        return Outcome(payload["client_id"], None, None, (time.perf_counter() - due) * 1000,
                       time.time(), type(error).__name__)
    latency = (time.perf_counter() - due) * 1000
    comment_id = None
    if 200 <= answer.status < 300:
        comment_id = json.loads(data)["id"]
    return Outcome(payload["client_id"], answer.status, comment_id, latency, time.time(),
                   None if answer.status < 300 else data[:200].decode(errors="replace"))


def payload(number: int, texts: list[str], prefix: str = "load") -> dict:
    return {"article_id": f"article-{number % 200}", "article_title": f"Article {number % 200}",
            "author": {"id": f"reader-{number % 2000}", "name": f"Reader {number % 2000}"},
            "client_id": f"{prefix}-{number}",
            "text": texts[number % len(texts)][:10_000].strip() or "No words."}


def open_load(port: int, headers: dict[str, str], texts: list[str], rate: float,
              seconds: float, threads: int) -> tuple[list[Outcome], float, int]:
    """Send rate * seconds submissions, each due at start + i / rate. Returns the outcomes,
    the seconds from the first due time to the last answer, and how many requests left more
    than 100 ms after they were due (the pool was the bottleneck)."""
    total = int(rate * seconds)
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    late = 0

    def one(number: int, due: float) -> None:
        outcome = post(port, headers, payload(number, texts), due)
        with lock:
            outcomes.append(outcome)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for number in range(total):
            due = started + number / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            elif wait < -0.1:
                late += 1
            pool.submit(one, number, due)
            if number and number % int(rate * 30) == 0:
                with lock:
                    done = len(outcomes)
                print(f"  {time.perf_counter() - started:5.0f} s: {number} sent, {done} answered",
                      flush=True)
    return outcomes, time.perf_counter() - started, late


# -- the checks ------------------------------------------------------------------------------

def wait_delivered(url: str, limit: float) -> tuple[int, float]:
    """Wait until no event is pending; returns how many still are, and the seconds waited."""
    import psycopg
    started = time.monotonic()
    while True:
        with psycopg.connect(libpq(url)) as connection:
            (pending,) = connection.execute(
                "SELECT count(*) FROM events WHERE status = 'pending'").fetchone()
        waited = time.monotonic() - started
        if pending == 0 or waited > limit:
            return pending, waited
        time.sleep(0.5)


def verify(url: str, outcomes: list[Outcome]) -> list[str]:
    """What the database holds against what the client was told; returns the failures."""
    import psycopg
    with psycopg.connect(libpq(url)) as connection:
        comments = connection.execute("SELECT client_id, id, status FROM comments").fetchall()
        events = connection.execute("SELECT comment_id, type FROM events").fetchall()
        (audits,) = connection.execute("SELECT count(*) FROM audit_entries").fetchone()
        (counted,) = connection.execute("SELECT coalesce(sum(count), 0) FROM queue_counts"
                                        ).fetchone()
    failures = []
    stored = Counter(client_id for client_id, _, _ in comments)
    by_client = {client_id: id_ for client_id, id_, _ in comments}
    acknowledged = {o.client_id: o.comment_id for o in outcomes if o.comment_id is not None}
    unanswered = {o.client_id for o in outcomes if o.comment_id is None}
    sent = acknowledged.keys() | unanswered
    twice = [client_id for client_id, n in stored.items() if n != 1]
    if twice:
        failures.append(f"{len(twice)} client_ids stored more than once: {twice[:5]}")
    wrong = [c for c, id_ in acknowledged.items() if by_client.get(c) != id_]
    if wrong:
        failures.append(f"{len(wrong)} acknowledged comments missing or under another id: "
                        f"{wrong[:5]}")
    strangers = [c for c in by_client if c not in sent]
    if strangers:
        failures.append(f"{len(strangers)} stored comments nobody sent: {strangers[:5]}")
    extra = [c for c in by_client if c in unanswered]
    if extra:  # a request that timed out may have been stored: legitimate (a retry with its
        # client_id answers it), but said
        print(f"note: {len(extra)} comments stored whose answer the client never got")
    per_comment = Counter(comment_id for comment_id, _ in events)
    status_of = {id_: status for _, id_, status in comments}
    if set(per_comment) != set(status_of) or set(per_comment.values()) - {1}:
        failures.append(f"events: {len(events)} for {len(comments)} comments, "
                        f"{sum(1 for n in per_comment.values() if n != 1)} comments with != 1")
    mismatched = [c for c, kind in events if SUBMIT_EVENTS.get(status_of.get(c)) != kind]
    if mismatched:
        failures.append(f"{len(mismatched)} events whose type does not match the decision")
    if audits != len(comments):
        failures.append(f"{audits} audit entries for {len(comments)} comments")
    if counted != len(comments):
        failures.append(f"queue counts add up to {counted}, not {len(comments)}")
    return failures


def delivery_lags(outcomes: list[Outcome], arrivals: dict[str, float],
                  statuses: dict[int, str]) -> list[float]:
    """Milliseconds from each comment's 2xx answer to its decision's arrival at the site."""
    lags = []
    for outcome in outcomes:
        if outcome.comment_id is None:
            continue
        key = f"{SUBMIT_EVENTS[statuses[outcome.comment_id]]}:{outcome.comment_id}"
        if key in arrivals:
            lags.append((arrivals[key] - outcome.answered_at) * 1000)
    return lags


# -- the run ---------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50.0, help="submissions per second")
    parser.add_argument("--seconds", type=float, default=180.0, help="how long to submit")
    parser.add_argument("--threads", type=int, default=64, help="sender threads at most")
    parser.add_argument("--database-url",
                        default=os.environ.get("BENCH_LOAD_DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--model-dir", default=os.environ.get("MODEL_DIR"))
    options = parser.parse_args()
    url = options.database_url
    if not url.startswith("postgresql"):
        raise SystemExit("--database-url must be a postgresql+psycopg:// URL")
    texts, described = sample_texts()
    prepare_postgres(url)

    with tempfile.TemporaryDirectory() as scratch:
        receiver = Receiver()
        env = {**os.environ, "APP_ENV": "production", "DATABASE_URL": url,
               "SECRET_KEY": "bench-load-secret-key-not-for-production",
               "INSTANCE_PATH": scratch, "LOG_LEVEL": "WARNING",
               "MODEL_DIR": options.model_dir or str(Path(scratch) / "models"),
               "WEBHOOK_ALLOW_HTTP": "1", "WEBHOOK_ALLOW_PRIVATE": "1",
               # The load is one site at 50/s, above a site's production budget (10/s).
               "RATE_LIMITS": "0"}
        processes: list[subprocess.Popen] = []
        try:
            flask(env, "db", "upgrade")
            import psycopg
            with psycopg.connect(libpq(url)) as connection:
                connection.execute(f"CREATE TABLE {MARKER} (created_at timestamptz "
                                   "DEFAULT now())")
            flask(env, "model", "train", "--if-missing")
            site = json.loads(flask(env, "sites", "create", SITE, "--webhook-url",
                                    receiver.url, "--json"))
            headers = {"Authorization": f"Bearer {site['api_key']}"}
            port = free_port()
            processes.append(start_gunicorn(env, port))
            with open(Path(scratch) / "worker.log", "w") as log:
                processes.append(subprocess.Popen(
                    [str(BIN / "flask"), "--app", "wsgi", "worker", "--name", "bench-load"],
                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
            warm = [post(port, headers, payload(n, texts, "warm"), time.perf_counter())
                    for n in range(20)]
            if any(o.comment_id is None for o in warm):
                raise RuntimeError(f"warm-up failed: {[o.error for o in warm]}")
            load1 = os.getloadavg()[0]
            print(f"POST /v1/comments at {options.rate:g}/s for {options.seconds:g} s "
                  f"(open model, {options.threads} sender threads at most), gunicorn 2 sync "
                  f"workers, PostgreSQL, 1 delivery worker, texts from {described}; "
                  f"{os.cpu_count()} cores, load average {load1:.1f}", flush=True)
            outcomes, elapsed, late = open_load(port, headers, texts, options.rate,
                                                options.seconds, options.threads)
            load2 = os.getloadavg()[0]
            pending, waited = wait_delivered(url, limit=600)
            stats = receiver.stats()
        finally:
            for process in reversed(processes):
                stop(process)
            receiver.stop()

    outcomes = warm + outcomes
    measured = outcomes[len(warm):]
    ok = [o for o in measured if o.comment_id is not None]
    latencies = [o.latency_ms for o in measured]
    errors = Counter(str(o.status or o.error) for o in measured if o.comment_id is None)
    import psycopg
    with psycopg.connect(libpq(url)) as connection:
        statuses = dict(connection.execute("SELECT id, status FROM comments").fetchall())
        (events,) = connection.execute("SELECT count(*) FROM events").fetchone()
    decisions = Counter(statuses.values())
    lags = delivery_lags(ok, stats["arrivals"], statuses)
    failures = verify(url, outcomes)
    if pending:
        failures.append(f"{pending} events still pending after {waited:.0f} s")
    if stats["distinct"] != events:
        failures.append(f"the receiver got {stats['distinct']} distinct events of {events}")

    print("| offered/s | seconds | requests | 2xx/s | p50 ms | p99 ms | max ms | errors |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {options.rate:g} | {elapsed:.0f} | {len(measured):,} | {len(ok) / elapsed:.1f} | "
          f"{percentile(latencies, 50):.1f} | {percentile(latencies, 99):.1f} | "
          f"{max(latencies):.0f} | {sum(errors.values())} |")
    print(f"errors: {dict(errors) or 'none'}; sent more than 100 ms late: {late}; "
          f"load average {load1:.1f} before, {load2:.1f} after")
    print(f"decisions: {', '.join(f'{k} {v}' for k, v in sorted(decisions.items()))}")
    print(f"webhooks: {events:,} events, {stats['distinct']:,} delivered "
          f"({stats['requests'] - stats['distinct']} sent twice), all delivered "
          f"{waited:.1f} s after the load ended; answer-to-delivered p50 "
          f"{percentile(lags, 50):.0f} ms, p99 {percentile(lags, 99):.0f} ms")
    if failures:
        print("VERIFICATION FAILED:\n  " + "\n  ".join(failures))
        raise SystemExit(1)
    print(f"verified ({date.today()}): each of {len(ok) + len(warm):,} acknowledged comments "
          "stored once under its answer's id, with one event and one audit entry each; "
          "nothing else stored")


if __name__ == "__main__":
    main()

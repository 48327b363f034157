"""What abusive clients do to everyone else's latency, on gunicorn as `make run` serves.

    python -m bench.abuse          (make bench-abuse; BENCH_ABUSE_SECONDS=60 by default)

1. Slow clients: SLOW connections each send a request line, then a header line every 2 s,
   for the whole run (a connection the server ends is opened again). Meanwhile 4 clients
   submit comments and one probes /healthz twice a second.
2. A noisy neighbour: one site posts 500-text scoring batches from 4 threads as fast as its
   rate limit lets it (the production limits, counted in Redis), while another site submits.
3. A trickling webhook receiver: one site's receiver sends its answer a byte every half
   second; another site's receiver answers at once. Comments go to both while one
   `flask worker` delivers; the prompt site's approve-to-delivered wait is reported.

Each prints the other clients' p50/p99 against the same load with no abuser, measured in the
same run. Loopback only, bounded in time.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.common import percentile, sample_texts
from bench.http import BIN, ROOT, prepare_service, start

SECONDS = float(os.environ.get("BENCH_ABUSE_SECONDS", "60"))
SLOW = int(os.environ.get("BENCH_SLOW_CONNECTIONS", "200"))
CLIENTS = 4


def submitter(port: int, headers: dict[str, str], texts: list[str], seconds: float,
              clients: int = CLIENTS, every: float = 0.0) -> list[tuple[int, float]]:
    """``clients`` threads submitting comments for ``seconds``, each at most one every
    ``every`` seconds: (status, ms) of each."""
    results: list[tuple[int, float]] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def run(thread: int) -> None:
        n = 0
        while time.monotonic() < deadline:
            n += 1
            body = json.dumps({"article_id": f"a{n % 20}",
                               "author": {"id": f"r{thread}-{n}"},
                               "text": texts[(thread * 7919 + n) % len(texts)][:2000] or "ok"})
            started = time.perf_counter()
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                connection.request("POST", "/v1/comments", body,
                                   {"Content-Type": "application/json", **headers})
                status = connection.getresponse().status
                connection.close()
            except OSError:
                status = 0
            elapsed = time.perf_counter() - started
            with lock:
                results.append((status, elapsed * 1000))
            if every > elapsed:
                time.sleep(every - elapsed)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def prober(port: int, seconds: float) -> tuple[int, int]:
    """/healthz twice a second for ``seconds``, 5 s each at most: (answered, asked)."""
    answered = asked = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        asked += 1
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            answered += connection.getresponse().status == 200
            connection.close()
        except OSError:
            pass
        time.sleep(0.5)
    return answered, asked


class SlowClients:
    """``count`` connections that each send a request line, then a header line every
    ``every`` seconds, never finishing; one the server ends is opened again (``reopened``
    counts them). A context manager: started on entry, closed on exit."""

    def __init__(self, port: int, count: int = SLOW, every: float = 2.0) -> None:
        self.port, self.count, self.every = port, count, every
        self.stop = threading.Event()
        self.reopened = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "SlowClients":
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop.set()
        self.thread.join(timeout=30)

    def _open(self) -> socket.socket | None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
            sock.sendall(b"POST /v1/comments HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            return sock
        except OSError:
            return None

    def _run(self) -> None:
        sockets = [self._open() for _ in range(self.count)]
        line = 0
        while not self.stop.wait(self.every):
            line += 1
            for i, sock in enumerate(sockets):
                try:
                    if sock is None:
                        raise OSError
                    sock.sendall(f"X-Slow-{line}: {line}\r\n".encode())
                except OSError:
                    if sock is not None:
                        sock.close()
                    self.reopened += 1
                    sockets[i] = self._open()
        for sock in sockets:
            if sock is not None:
                sock.close()


def neighbour(port: int, headers: dict[str, str], texts: list[str], seconds: float) -> int:
    """4 threads posting 500-text batches for ``seconds``; returns how many were refused."""
    refused = [0]
    deadline = time.monotonic() + seconds

    def run(thread: int) -> None:
        while time.monotonic() < deadline:
            batch = [texts[(thread * 500 + i) % len(texts)][:2000] or "ok" for i in range(500)]
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request("POST", "/v1/score/batch", json.dumps({"texts": batch}),
                               {"Content-Type": "application/json", **headers})
            response = connection.getresponse()
            response.read()
            connection.close()
            if response.status == 429:
                refused[0] += 1
                time.sleep(0.05)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return refused[0]


def row(name: str, results: list[tuple[int, float]]) -> str:
    latencies = [ms for _, ms in results]
    errors = sum(1 for status, _ in results if status != 201)
    return (f"| {name} | {len(results)} | {percentile(latencies, 50):.1f} | "
            f"{percentile(latencies, 99):.1f} | {errors} |")


def main() -> None:
    texts, described = sample_texts()
    with tempfile.TemporaryDirectory() as instance:
        env = {**os.environ, "APP_ENV": "development", "INSTANCE_PATH": instance,
               "LOG_LEVEL": "WARNING", "DATABASE_URL": f"sqlite:///{instance}/bench.db",
               "RATE_LIMITS": "1", "RATE_LIMIT_AUTHOR": "100000/minute",
               "RATE_LIMIT_SUBMISSIONS": "100000/minute",
               "RATE_LIMIT_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
               "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")}
        headers = prepare_service(env)
        server, port = start("wsgi:app", env)
        try:
            submitter(port, headers, texts, 3)  # warm up
            print(f"## Slow clients: {SLOW} connections sending a header line every 2 s, "
                  f"{SECONDS:g} s; {CLIENTS} clients submitting {described}; "
                  f"{os.cpu_count()} cores")
            print("| other clients' POST /v1/comments | requests | p50 ms | p99 ms | errors |")
            print("|---|---|---|---|---|")
            alone = submitter(port, headers, texts, SECONDS)
            print(row("alone", alone), flush=True)
            probes: list[tuple[int, int]] = []
            with SlowClients(port) as slow:
                time.sleep(3)
                probe = threading.Thread(target=lambda: probes.append(prober(port, SECONDS)))
                probe.start()
                attacked = submitter(port, headers, texts, SECONDS)
                probe.join()
            print(row(f"beside {SLOW} slow connections", attacked))
            answered, asked = probes[0]
            print(f"\n/healthz answered {answered} of {asked} probes; the server ended "
                  f"{slow.reopened} slow connections (opened again at once); p99 "
                  f"{percentile([ms for _, ms in attacked], 99) / percentile([ms for _, ms in alone], 99):.2f}x "
                  "of alone\n", flush=True)
        finally:
            server.terminate()
            server.wait()

        # The noisy neighbour needs the production budget for the batch site only.
        env["RATE_LIMIT_SUBMISSIONS"] = "600/minute"
        env["RATE_LIMIT_KEY_PREFIX"] = f"bench-{uuid.uuid4().hex[:8]}"
        server, port = start("wsgi:app", env)
        try:
            quiet = headers  # the bench site, 5 comments a second: half its budget
            noisy_key = json.loads(subprocess.run(
                [str(BIN / "flask"), "--app", "wsgi", "sites", "create", "noisy", "--json"],
                cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout)["api_key"]
            noisy = {"Authorization": f"Bearer {noisy_key}"}
            seconds = min(SECONDS, 25)
            print(f"## A noisy neighbour: 4 threads posting 500-text batches at its limit "
                  f"(600 texts a minute), {seconds:g} s; another site submitting 5 comments a second")
            print("| the other site's POST /v1/comments | requests | p50 ms | p99 ms | errors |")
            print("|---|---|---|---|---|")
            alone = submitter(port, quiet, texts, seconds, clients=1, every=0.2)
            print(row("alone", alone), flush=True)
            refused: list[int] = []
            batches = threading.Thread(
                target=lambda: refused.append(neighbour(port, noisy, texts, seconds)))
            batches.start()
            beside = submitter(port, quiet, texts, seconds, clients=1, every=0.2)
            batches.join()
            print(row("beside the neighbour", beside))
            p50 = percentile([ms for _, ms in beside], 50) / percentile([ms for _, ms in alone], 50)
            print(f"\nthe neighbour's batches refused with 429: {refused[0]}; the other site's "
                  f"p50 {p50:.2f}x of alone\n", flush=True)
        finally:
            server.terminate()
            server.wait()
        trickling(env, texts, min(SECONDS, 30))


def trickling_receiver() -> tuple[str, threading.Event]:
    """A receiver that reads a request, then sends its status line a byte every 0.5 s."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(128)
    stop = threading.Event()

    def answer(conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                for byte in b"HTTP/1.1 204 No Content\r\n\r\n":
                    if stop.wait(0.5):
                        return
                    conn.send(bytes([byte]))
            except OSError:
                return

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    stop_all = threading.Event()
    threading.Thread(target=lambda: (stop_all.wait(), stop.set(), server.close()),
                     daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}/hook", stop_all


def prompt_receiver() -> tuple[str, ThreadingHTTPServer]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/hook", server


def trickling(env: dict[str, str], texts: list[str], seconds: float) -> None:
    env = {**env, "WEBHOOK_ALLOW_HTTP": "1", "WEBHOOK_ALLOW_PRIVATE": "1", "RATE_LIMITS": "0"}
    slow_url, stop_slow = trickling_receiver()
    fast_url, fast = prompt_receiver()

    def create(name: str, url: str) -> dict[str, str]:
        key = json.loads(subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", "sites", "create", name, "--webhook-url",
             url, "--json"], cwd=ROOT, env=env, check=True, capture_output=True,
            text=True).stdout)["api_key"]
        return {"Authorization": f"Bearer {key}"}

    slow, prompt = create("trickling", slow_url), create("prompt", fast_url)
    server, port = start("wsgi:app", env)
    worker = subprocess.Popen([str(BIN / "flask"), "--app", "wsgi", "worker",
                               "--poll-seconds", "0.1"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        started = time.monotonic()
        threads = [threading.Thread(target=submitter, args=(port, headers, texts[:50], seconds),
                                    kwargs={"clients": 1, "every": 0.5})
                   for headers in (slow, prompt)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        time.sleep(5)  # the last events' deliveries
        elapsed = time.monotonic() - started
    finally:
        worker.terminate()
        worker.wait()
        server.terminate()
        server.wait()
        stop_slow.set()
        fast.shutdown()
    from sqlalchemy import select

    from service import create_app
    from service.extensions import db
    from service.publishing.models import Event
    from service.sites.models import Site
    app = create_app({key: value for key, value in env.items() if key.isupper()})
    with app.app_context():
        rows = db.session.execute(
            select(Site.name, Event.status, Event.attempts, Event.created_at,
                   Event.delivered_at).join(Site, Site.id == Event.site_id)).all()
    waits = [(delivered - created).total_seconds() for name, status, _, created, delivered
             in rows if name == "prompt" and delivered is not None]
    pending = sum(1 for name, status, *_ in rows if name == "prompt" and status != "delivered")
    tries = sum(attempts for name, _, attempts, *_ in rows if name == "trickling")
    print(f"## A trickling webhook receiver: one site's receiver answers a byte every 0.5 s "
          f"(cut off at the 10 s delivery deadline), another's at once; 2 comments a second "
          f"to each for {seconds:g} s, one `flask worker` ({elapsed:.0f} s in all)")
    print("| the prompt site's events | delivered | not delivered | p50 s | p99 s | max s |")
    print("|---|---|---|---|---|---|")
    print(f"| beside the trickling site ({tries} attempts on it) | {len(waits)} | {pending} | "
          f"{percentile(waits, 50):.2f} | {percentile(waits, 99):.2f} | {max(waits):.2f} |")


if __name__ == "__main__":
    main()

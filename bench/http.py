"""HTTP speed of POST /v1/comments against a bare JSON endpoint, under the same gunicorn.

    python -m bench.http               (make bench runs it)

Both servers run `gunicorn -c gunicorn.conf.py` with the same worker count; a bounded load
(fixed request count, loopback only) is sent by a thread pool with one connection per
request. Runs on SQLite, and on PostgreSQL when BENCH_DATABASE_URL or TEST_DATABASE_URL is set
(the PostgreSQL database is emptied first).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import ROOT, percentile, sample_texts

BIN = Path(sys.executable).parent
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "1500"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))
WORKERS = os.environ.get("WEB_CONCURRENCY", "2")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(app: str, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", app], cwd=ROOT,
        env={**env, "PORT": str(port), "WEB_CONCURRENCY": WORKERS, "LOG_LEVEL": "warning"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{app} did not start")


def load(port: int, headers: dict[str, str], texts: list[str]) -> dict[str, float]:
    def one(i: int) -> tuple[int, float]:
        body = json.dumps({"article_id": f"a{i % 50}", "author": {"id": f"r{i % 300}"},
                           "text": texts[i % len(texts)][:10_000] or "empty"})
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", "/v1/comments", body,
                           {"Content-Type": "application/json", **headers})
        status = connection.getresponse().status
        connection.close()
        return status, (time.perf_counter() - started) * 1000

    for i in range(20):  # warm up every worker
        one(i)
    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        results = list(pool.map(one, range(REQUESTS)))
    elapsed = time.perf_counter() - started
    latencies = [ms for _, ms in results]
    errors = sum(1 for status, _ in results if status >= 300)
    return {"rps": REQUESTS / elapsed, "p50": percentile(latencies, 50),
            "p99": percentile(latencies, 99), "errors": errors}


def prepare_service(env: dict[str, str]) -> dict[str, str]:
    """Migrate an empty database and create a site; returns the auth header."""
    def flask(*args: str) -> str:
        return subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env,
                              check=True, capture_output=True, text=True).stdout

    if env["DATABASE_URL"].startswith("postgresql"):
        subprocess.run([str(BIN / "python"), "-c", (
            "from service import create_app; from service.extensions import db\n"
            "app = create_app()\n"
            "with app.app_context():\n"
            "    db.drop_all()\n"
            "    with db.engine.begin() as c: c.exec_driver_sql('DROP TABLE IF EXISTS alembic_version')")],
            cwd=ROOT, env=env, check=True)
    flask("db", "upgrade")
    flask("model", "train", "--if-missing")
    key = json.loads(flask("sites", "create", "bench", "--json"))["api_key"]
    return {"Authorization": f"Bearer {key}"}


def main() -> None:
    texts, described = sample_texts()
    databases = {"SQLite": None}
    postgres = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if postgres:
        databases["PostgreSQL"] = postgres
    print(f"POST /v1/comments, {REQUESTS} requests, {CONCURRENCY} concurrent clients, "
          f"{WORKERS} gunicorn workers (gevent, as make run serves), texts from {described}; "
          f"{os.cpu_count()} cores")
    print("| server | database | requests/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as instance:
        base_env = {**os.environ, "APP_ENV": "development", "INSTANCE_PATH": instance,
                    "LOG_LEVEL": "WARNING"}
        bare, port = start("bench.bare_app:app", base_env)
        try:
            baseline = load(port, {}, texts)
        finally:
            bare.terminate()
            bare.wait()
        print(f"| bare JSON endpoint | none | {baseline['rps']:,.0f} | {baseline['p50']:.1f} | "
              f"{baseline['p99']:.1f} | {baseline['errors']} |")
        for name, url in databases.items():
            env = {**base_env, "DATABASE_URL": url or f"sqlite:///{instance}/bench.db"}
            headers = prepare_service(env)
            server, port = start("wsgi:app", env)
            try:
                ours = load(port, headers, texts)
            finally:
                server.terminate()
                server.wait()
            print(f"| moderation service | {name} | {ours['rps']:,.0f} | {ours['p50']:.1f} | "
                  f"{ours['p99']:.1f} | {ours['errors']} |   "
                  f"throughput {ours['rps'] / baseline['rps']:.2f}x of bare, "
                  f"p99 {ours['p99'] / baseline['p99']:.1f}x")


if __name__ == "__main__":
    main()

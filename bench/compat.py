"""What the Perspective and OpenAI compatibility layers cost: requests per second and p99 of
`POST /v1alpha1/comments:analyze` (TOXICITY, as Coral Talk asks) and of `POST /v1/moderations`
(one text) against the service's own API doing the same work (`/v1/score/batch` with one
text; `/v1/score`, which explains, for analyze with `spanAnnotations`), on the same
gunicorn, in one run.

    python -m bench.compat        (make bench-compat; BENCH_REQUESTS, BENCH_CONCURRENCY)

Each endpoint gets the same texts, the same request count and concurrency, one connection
per request, in turns (score, analyze, moderations, and again), so a busy moment of the
shared machine does not land on one of them only.
"""

from __future__ import annotations

import http.client
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from bench.common import percentile, sample_texts
from bench.http import CONCURRENCY, REQUESTS, prepare_service, start

ROUNDS = 2


def load(port: int, path: str, headers: dict[str, str],
         body: Callable[[str], dict], texts: list[str]) -> tuple[list[float], int]:
    """REQUESTS posts of ``body(text)`` to ``path``: each one's milliseconds, and errors."""
    def one(i: int) -> tuple[int, float]:
        payload = json.dumps(body(texts[i % len(texts)][:3000] or "empty"))
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", path, payload, {"Content-Type": "application/json",
                                                   **headers})
        status = connection.getresponse().status
        connection.close()
        return status, (time.perf_counter() - started) * 1000

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        results = list(pool.map(one, range(REQUESTS // ROUNDS)))
    return [ms for _, ms in results], sum(1 for status, _ in results if status != 200)


def main() -> None:
    texts, described = sample_texts()
    analyze = {"requestedAttributes": {"TOXICITY": {}}, "languages": ["en"],
               "doNotStore": True}
    # name -> (path, body, the own endpoint doing the same work)
    endpoints = {
        "POST /v1/score/batch, one text": ("/v1/score/batch", lambda t: {"texts": [t]}, None),
        "POST /v1alpha1/comments:analyze": (
            "/v1alpha1/comments:analyze", lambda t: {"comment": {"text": t}, **analyze},
            "POST /v1/score/batch, one text"),
        "POST /v1/moderations": ("/v1/moderations", lambda t: {"input": t},
                                 "POST /v1/score/batch, one text"),
        "POST /v1/score (explained)": ("/v1/score", lambda t: {"text": t}, None),
        "POST /v1alpha1/comments:analyze, spanAnnotations": (
            "/v1alpha1/comments:analyze",
            lambda t: {"comment": {"text": t}, "spanAnnotations": True, **analyze},
            "POST /v1/score (explained)"),
    }
    with tempfile.TemporaryDirectory() as instance:
        env = {**os.environ, "APP_ENV": "development", "INSTANCE_PATH": instance,
               "LOG_LEVEL": "WARNING", "DATABASE_URL": f"sqlite:///{instance}/bench.db"}
        headers = prepare_service(env)
        server, port = start("wsgi:app", env)
        try:
            for path, body, _ in endpoints.values():  # warm every worker up on each
                load(port, path, headers, body, texts[:20])
            latencies: dict[str, list[float]] = {name: [] for name in endpoints}
            seconds = dict.fromkeys(endpoints, 0.0)
            errors = dict.fromkeys(endpoints, 0)
            for _ in range(ROUNDS):
                for name, (path, body, _) in endpoints.items():
                    started = time.perf_counter()
                    measured, failed = load(port, path, headers, body, texts)
                    seconds[name] += time.perf_counter() - started
                    latencies[name] += measured
                    errors[name] += failed
        finally:
            server.terminate()
            server.wait()
    print(f"{REQUESTS} requests per endpoint in {ROUNDS} turns, {CONCURRENCY} concurrent "
          f"clients, texts from {described}; gunicorn as make run serves it; "
          f"{os.cpu_count()} cores")
    print("| endpoint | requests/s | p50 ms | p99 ms | errors | against the same work on the "
          "service's own API |")
    print("|---|---|---|---|---|---|")
    for name, (_, _, own) in endpoints.items():
        rps = len(latencies[name]) / seconds[name]
        p99 = percentile(latencies[name], 99)
        versus = ""
        if own is not None:
            own_rps = len(latencies[own]) / seconds[own]
            versus = (f"throughput {rps / own_rps:.2f}x, p99 "
                      f"{p99 / percentile(latencies[own], 99):.2f}x of `{own}`")
        print(f"| `{name}` | {rps:,.0f} | {percentile(latencies[name], 50):.1f} | {p99:.1f} | "
              f"{errors[name]} | {versus} |")

if __name__ == "__main__":
    main()

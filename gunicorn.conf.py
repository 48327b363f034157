"""gunicorn settings: `gunicorn -c gunicorn.conf.py wsgi:app` (what `make run` starts)."""

import os
import sys
from pathlib import Path


def _number(name: str, default: str, low: int, high: int) -> int:
    raw = os.environ.get(name) or default
    if not raw.isdigit() or not low <= int(raw) <= high:
        print(f"configuration error: {name} must be a number from {low} to {high}; got {raw!r}",
              file=sys.stderr)
        raise SystemExit(2)
    return int(raw)


bind = f"{os.environ.get('HOST') or '127.0.0.1'}:{_number('PORT', '8000', 1, 65535)}"
workers = _number("WEB_CONCURRENCY", "2", 1, 64)
worker_class = "sync"
timeout = 30
graceful_timeout = 20
# One JSON-free line per request; comment text never appears in it (bodies are not logged).
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

# Metrics: each worker is a process with its own counters, so each writes them to files in
# one folder and /metrics, whichever worker answers, sums them (prometheus_client's
# multiprocess mode). Set here, in the master, so every worker inherits it before it
# imports prometheus_client. One folder per gunicorn: the default is in the instance folder.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _instance = Path(os.environ.get("INSTANCE_PATH") or Path(__file__).resolve().parent / "instance")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_instance / "metrics")


def on_starting(server) -> None:
    """Start the metrics from zero: a previous run's files would be added in."""
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()


def child_exit(server, worker) -> None:
    """A worker has gone: drop its live gauges (its counters stay in the sums)."""
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker) -> None:
    """Load the active model before the worker takes requests, so the first one is not slow."""
    scoring = worker.wsgi.extensions.get("moderation.scoring")
    if scoring is not None and scoring.ready:
        worker.log.info("worker %s scores with model %s", worker.pid, scoring.current().version)

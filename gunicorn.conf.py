"""gunicorn settings: `gunicorn -c gunicorn.conf.py wsgi:app` (what `make run` starts)."""

import os
import sys


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


def post_worker_init(worker) -> None:
    """Load the active model before the worker takes requests, so the first one is not slow."""
    scoring = worker.wsgi.extensions.get("moderation.scoring")
    if scoring is not None and scoring.ready:
        worker.log.info("worker %s scores with model %s", worker.pid, scoring.current().version)

"""gunicorn settings: `gunicorn -c gunicorn.conf.py wsgi:app` (what `make run` starts)."""

import os
import sys


def _port() -> int:
    raw = os.environ.get("PORT", "8000")
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        print(f"configuration error: PORT must be a number from 1 to 65535; got {raw!r}",
              file=sys.stderr)
        raise SystemExit(2)
    return int(raw)


bind = f"{os.environ.get('HOST', '127.0.0.1')}:{_port()}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
timeout = 30
graceful_timeout = 20
# One JSON-free line per request; comment text never appears in it (bodies are not logged).
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

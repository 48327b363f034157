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
timeout = 30
graceful_timeout = 20

# Slow and idle clients. A sync worker gives each connection the whole process until its
# request has arrived: two clients sending a header line every few seconds took the service
# down. gevent's worker waits for every connection at once, a greenlet each, so a slow one
# costs memory, not a worker; scoring (CPU) still runs one request at a time per worker.
# Each worker holds at most `worker_connections`; beyond that the kernel queues new ones.
worker_connections = _number("WORKER_CONNECTIONS", "1000", 10, 100000)
# A request line and headers must arrive within `keepalive` seconds of the connection's (or
# the previous request's) start, or the connection is closed (gunicorn's gevent worker reads
# them under this timeout). Then the body is read whole, before the app sees the request,
# within REQUEST_SECONDS (REQUEST_TIMEOUT): a body sent a byte at a time is answered 408 and
# the app never runs, so a cut-off request has done nothing a client could not resend.
keepalive = 5
REQUEST_SECONDS = _number("REQUEST_TIMEOUT", "30", 1, 3600)
# Bodies are buffered up to the largest the app accepts (1 MB, a scoring batch) and one byte
# more, so that the app still sees a larger one as too large (413); the worst case is this
# much memory a connection.
BODY_BUFFER = 1024 * 1024 + 1


def _gevent_worker_class():
    """gunicorn's gevent worker that reads each request's body under a deadline before the
    app runs."""
    import io

    import gevent
    from gunicorn import util
    from gunicorn.workers.ggevent import GeventWorker

    class BodyTooSlow(Exception):
        pass

    class DeadlineGeventWorker(GeventWorker):
        def handle_request(self, listener_name, req, sock, addr):
            if req.body is not None:
                try:
                    with gevent.Timeout(REQUEST_SECONDS, BodyTooSlow):
                        body = req.body.read(BODY_BUFFER)
                except BodyTooSlow:
                    self.log.warning("request cut off: its body did not arrive within %s s",
                                     REQUEST_SECONDS)
                    try:
                        util.write_error(sock, 408, "Request Timeout",
                                         f"The body did not arrive within {REQUEST_SECONDS} s.")
                    except OSError:
                        pass
                    raise StopIteration from None  # gunicorn closes the connection
                if len(body) == BODY_BUFFER:
                    req.must_close = True  # what is left of it stays unread on the socket
                req.body = io.BytesIO(body)
            return super().handle_request(listener_name, req, sock, addr)

    return DeadlineGeventWorker


worker_class = _gevent_worker_class()
# One line per request, ending with its X-Request-Id (the app's log lines and error bodies
# carry the same id); comment text never appears in it (bodies are not logged), nor any query
# string: moderators' searches (?q=, ?author=) would outlive an author's erasure there, and
# a key sent as ?key= would be kept.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms %({x-request-id}o)s'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def _json_logger_class():
    """gunicorn's logger writing the app's JSON lines (service/log.py), access lines too.

    service/log.py is loaded by its path: importing the service package would load the model
    libraries into this master process."""
    import importlib.util

    from gunicorn.glogging import Logger
    spec = importlib.util.spec_from_file_location(
        "moderation_log", Path(__file__).resolve().parent / "service" / "log.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    class JsonLogger(Logger):
        def setup(self, cfg) -> None:
            super().setup(cfg)
            for logger in (self.error_log, self.access_log):
                for handler in logger.handlers:
                    handler.setFormatter(module.JsonFormatter())

    return JsonLogger


# LOG_FORMAT as the app reads it (service/config.py): JSON by default in production.
_log_format = os.environ.get("LOG_FORMAT") or (
    "json" if (os.environ.get("APP_ENV") or "production").lower() == "production" else "text")
if _log_format.lower() == "json":
    logger_class = _json_logger_class()

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
    from service.container import EXTENSION
    services = worker.wsgi.extensions.get(EXTENSION)  # None: another app (bench's bare one)
    scoring = services.scoring if services is not None else None
    if scoring is not None and scoring.ready:
        worker.log.info("worker %s scores with model %s", worker.pid, scoring.current().version)

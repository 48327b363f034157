"""Request ids and log lines.

Every request gets an id: the caller's ``X-Request-Id`` when it is a sane token, else a new
one. It goes back in the ``X-Request-Id`` response header, in every JSON error body and on
every log line written while the request runs, so a host site's bug report, gunicorn's access
line and the app's own lines can be matched up.

``LOG_FORMAT=json`` (production's default) writes one JSON object a line: ``time``, ``level``,
``logger``, ``message``, ``request_id`` (in a request) and ``exception`` (a traceback).
``json.dumps`` escapes newlines, quotes and control characters, so text a client sent can
never start a forged line. ``text`` (development and tests) escapes control characters in the
message for the same reason.

This module imports nothing from the rest of ``service``: gunicorn's master process loads it
by its path (see ``gunicorn.conf.py``) without pulling in the model libraries.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from flask import Flask, Response, has_request_context, request

REQUEST_ID_HEADER = "X-Request-Id"
LOG_FORMATS = ("json", "text")
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_ENVIRON_KEY = "moderation.request_id"
# gunicorn hands its access line's values to the log call as a mapping: the response's
# X-Request-Id is under this name.
_GUNICORN_REQUEST_ID = "{x-request-id}o"
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def request_id() -> str | None:
    """The current request's id, made on first use; None outside a request.

    Kept in the WSGI environ, not in ``g``: a test (or a CLI command) that holds an app
    context open would otherwise share one ``g``, and one id, across its requests.
    """
    if not has_request_context():
        return None
    environ = request.environ
    current = environ.get(_ENVIRON_KEY)
    if current is None:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        current = offered if _SANE_ID.fullmatch(offered) else uuid.uuid4().hex
        environ[_ENVIRON_KEY] = current
    return current


def init_app(app: Flask) -> None:
    """Give every request an id and every response the ``X-Request-Id`` header.

    Called first in :func:`service.create_app`, so the id exists before any other hook runs
    (and could log).
    """
    app.before_request(_assign_request_id)
    app.after_request(_add_request_id_header)


def _assign_request_id() -> None:
    request_id()  # a before_request hook that returned the id would answer with it


def _add_request_id_header(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = request_id() or uuid.uuid4().hex
    return response


def escape_controls(text: str) -> str:
    r"""``text`` with control characters written as escapes (``\n``, ``\x1b``): one line."""
    return _CONTROL.sub(lambda match: json.dumps(match.group())[1:-1], text)


class JsonFormatter(logging.Formatter):
    """One JSON object a line; a client's text inside stays one escaped string."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc)
                            .isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = _record_request_id(record)
        if rid:
            entry["request_id"] = rid
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [request id] message``, the message's control characters
    escaped; a traceback, when there is one, follows on its own lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        rid = _record_request_id(record)
        values = {**record.__dict__, "message": escape_controls(record.message),
                  "request_tag": f" [{rid}]" if rid else ""}
        return self._style._fmt % values


def _record_request_id(record: logging.LogRecord) -> str | None:
    rid = getattr(record, "request_id", None)
    if rid is None and isinstance(record.args, Mapping):
        rid = record.args.get(_GUNICORN_REQUEST_ID)  # gunicorn's access line
    return rid if isinstance(rid, str) and _SANE_ID.fullmatch(rid) else None


def formatter_for(log_format: str) -> logging.Formatter:
    """The formatter ``LOG_FORMAT`` names."""
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure_logging(level: str, log_format: str) -> None:
    """Set the root logger's level and the format of its stderr handler.

    Adds that handler only when the root logger has none of its own making (pytest's
    capture, or an embedding program's, are left alone), and replaces its formatter on a
    second call, so building the app twice never doubles each line.
    """
    _tag_records_with_request_id()
    root = logging.getLogger()
    root.setLevel(level)
    ours = [handler for handler in root.handlers if getattr(handler, "_moderation", False)]
    if not ours and root.handlers:
        return
    if not ours:
        handler = logging.StreamHandler(sys.stderr)
        handler._moderation = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        ours = [handler]
    for handler in ours:
        handler.setFormatter(formatter_for(log_format))


def _tag_records_with_request_id() -> None:
    """Every log record made during a request carries ``request_id``, whichever handler
    (ours, gunicorn's, pytest's caplog) formats it."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_adds_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = request_id()
        return record

    factory._adds_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)

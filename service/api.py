"""The JSON API's shared pieces: one error shape, site authentication, input hygiene.

Every error answers ``{"code", "status", "message", "errors"?}``: flask-smorest's shape,
with ``message`` always set and domain errors mapped onto their HTTP status here, so views
never build an error by hand.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Callable, Mapping

import marshmallow as ma
from flask import Flask, Request, current_app, g, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Api, Blueprint, abort
from flask_smorest.error_handler import ErrorSchema
from marshmallow import missing
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import HTTPException, InternalServerError

from service.container import services
from service.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, Unavailable
from service.log import request_id

if TYPE_CHECKING:
    from service.sites.models import Site

log = logging.getLogger(__name__)

_DEFAULT_MESSAGES = {
    400: "The request body is not valid JSON.",
    401: "Missing or invalid API key: send 'Authorization: Bearer <api key>'.",
    404: "Not found.",
    405: "Method not allowed on this resource.",
    413: "The request body is larger than the limit.",
    415: "The request body must be JSON (Content-Type: application/json).",
    422: "Some fields are invalid: see 'errors'.",
    500: "Internal error. It has been logged.",
}

# Paths served as web pages rather than JSON.
HTML_PATHS = ("/moderation", "/login", "/logout")
_HTML_MESSAGES = {500: "Internal error. It has been logged."}

_DOMAIN_STATUS: dict[type[DomainError], int] = {
    NotFound: 404, Conflict: 409, InvalidInput: 422, Unavailable: 503, Forbidden: 403,
}


def status_of(error: DomainError) -> int:
    """The HTTP status of a domain error: the one mapping, for the JSON API and the pages."""
    return _DOMAIN_STATUS.get(type(error), 400)


def domain_error_page(error: DomainError) -> tuple[str, int]:
    """A domain error as a page (the web UIs' blueprints register it): its message, its status."""
    code = status_of(error)
    return render_template("error.html", message=str(error), code=code), code

DATABASE_UNAVAILABLE = "The database is unavailable; retry shortly."
DATABASE_RETRY_AFTER = "5"  # seconds: a restart or failover, not a long outage
# SQLSTATE classes of a lost or refusing server: connection exception, insufficient
# resources (too many connections), operator intervention (shutdown, recovery), and
# transaction rollback (deadlock, serialisation), which a retry also resolves.
_RETRYABLE_SQLSTATES = ("08", "53", "57P", "40")
_RETRYABLE_SQLITE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR",
                     "SQLITE_FULL")


def database_unavailable(error: SQLAlchemyError) -> bool:
    """Whether ``error`` means the database cannot serve now (gone, restarting, busy),
    rather than a fault in the request or the code: the former is worth a retry."""
    if isinstance(error, PoolTimeout):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, OperationalError):
        return False
    orig = error.orig
    sqlite_name = getattr(orig, "sqlite_errorname", None)
    if sqlite_name is not None:
        return sqlite_name.startswith(_RETRYABLE_SQLITE)
    sqlstate = getattr(orig, "sqlstate", None)
    # No SQLSTATE: no server answered at all (refused, timed out, closed mid-query).
    return sqlstate is None or sqlstate.startswith(_RETRYABLE_SQLSTATES)


class ErrorOut(ErrorSchema):
    """The one error shape, as the OpenAPI document describes it to clients."""

    request_id = ma.fields.String(metadata={
        "description": "This request's X-Request-ID: quote it when reporting the error."})


ErrorShape = Callable[[int, dict], tuple[dict, int]]
"""Turns (status, this API's error payload) into another API's error body and status."""


class ModerationApi(Api):
    """flask-smorest's Api, with a message on every error and domain errors mapped.

    A blueprint that imitates another service's API answers errors in that API's shape:
    ``error_shapes`` maps its name to the function that builds it."""

    ERROR_SCHEMA = ErrorOut

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.error_shapes: dict[str, ErrorShape] = {}

    def handle_http_exception(self, error: HTTPException):
        if isinstance(error, InternalServerError):
            original = getattr(error, "original_exception", None)
            if original is not None:
                # repr(): a path is the client's text, and must not forge log lines.
                log.error("unhandled error on %s %r", request.method, request.path,
                          exc_info=original)
            error.data = {}  # never echo an internal exception to the caller
        if request.path.startswith(HTML_PATHS):
            # The moderators' pages answer errors (a stale CSRF token, say) as a page.
            code = error.code or 500
            message = _HTML_MESSAGES.get(code) or error.description
            return render_template("error.html", message=message, code=code,
                                   request_id=request_id()), code
        payload, code, headers = super().handle_http_exception(error)
        payload.setdefault("message", _DEFAULT_MESSAGES.get(code) or error.description)
        payload["request_id"] = request_id()  # quote it when reporting the error
        if code == 401:
            headers = {**headers, "WWW-Authenticate": 'Bearer realm="moderation"'}
        shape = self.error_shapes.get(request.blueprint or "")
        if shape is not None:
            body, code = shape(code, payload)
            return body, code, headers
        return payload, code, headers

    def handle_domain_error(self, error: DomainError):
        code = status_of(error)
        exception = HTTPException()
        exception.code = code
        exception.data = {"message": str(error)}
        if isinstance(error, InvalidInput):
            exception.data["errors"] = {error.location: error.errors}
        if isinstance(error, Unavailable):
            exception.data["headers"] = {"Retry-After": "30"}
        return self.handle_http_exception(exception)

    def handle_database_error(self, error: SQLAlchemyError):
        """A database that is down, restarting or refusing connections answers 503 with
        Retry-After rather than 500: the client may send the request again (a submission
        with its ``client_id`` is still stored once). Anything else stays a logged 500."""
        from service.extensions import db
        try:
            db.session.rollback()  # the transaction is lost either way; free the connection
        except SQLAlchemyError:
            pass
        if not database_unavailable(error):
            raise error  # a fault, not an outage: Flask's 500 (or the test's traceback)
        # Only the driver's first line: the full error carries the statement's parameters.
        orig = getattr(error, "orig", None) or error
        log.warning("database unavailable on %s %r: %r", request.method, request.path,
                    str(orig).split("\n", 1)[0][:200])
        exception = HTTPException()
        exception.code = 503
        exception.description = DATABASE_UNAVAILABLE
        exception.data = {"message": DATABASE_UNAVAILABLE,
                          "headers": {"Retry-After": DATABASE_RETRY_AFTER}}
        return self.handle_http_exception(exception)

    def init_app(self, app: Flask, *args: Any, **kwargs: Any) -> None:
        super().init_app(app, *args, **kwargs)
        app.register_error_handler(DomainError, self.handle_domain_error)
        app.register_error_handler(SQLAlchemyError, self.handle_database_error)
        self.spec.components.security_scheme(
            "siteKey", {"type": "http", "scheme": "bearer",
                        "description": "The site's API key, from `flask --app wsgi sites create`."})
        self.spec.components.security_scheme(
            "moderatorToken", {"type": "http", "scheme": "bearer",
                               "description": "A moderator's token, from "
                                              "`flask --app wsgi users token NAME`."})
        self.spec.components.security_scheme(
            "session", {"type": "apiKey", "in": "cookie", "name": "session",
                        "description": "The web UI's session; a POST also needs the "
                                       "`X-CSRFToken` header."})


class SafeJsonParser(FlaskParser):
    """webargs' parser, strict where Python's ``json`` is lenient, and never a 500.

    Refused with 400: JSON nested too deeply for Python, an integer too long for Python to
    convert (over 4,300 digits), ``NaN`` and ``Infinity`` (not JSON), and an object that
    repeats a key, which parsers disagree on (first or last wins) and so could show a
    proxy or log one text and store another.
    """

    def _raw_load_json(self, req: Request) -> Any:
        if not is_json_request(req):
            return missing
        data = req.get_data(cache=True)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise json.JSONDecodeError(f"not UTF-8: {exc.reason}",
                                       data.decode("utf-8", "replace"), exc.start) from exc
        try:
            return json.loads(text, object_pairs_hook=_unique_keys,
                              parse_constant=_no_constants)
        except json.JSONDecodeError:
            raise  # webargs answers it: 400, or no body at all when it is empty
        except RecursionError:
            abort(400, message="The JSON body is nested too deeply.")
        except ValueError:
            abort(400, message="A number in the JSON body has too many digits.")


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with JSON nested past Python's recursion limit a ValueError like any
    other malformed JSON: wherever a request's body is read outside the schemas (the rate
    limiter's ``get_json(silent=True)``), a RecursionError would otherwise be a 500."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("The JSON is nested too deeply.") from exc


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        abort(400, message="A JSON object in the body repeats a key.")
    return value


def _no_constants(name: str) -> Any:
    abort(400, message="NaN and Infinity are not JSON numbers.")


class SiteBlueprint(Blueprint):
    """A blueprint of host-site endpoints: every request must carry a site's API key
    (401 otherwise) and, when it has a body, a JSON one (415 otherwise).

    ``key_in_query`` also takes the key from a ``key`` query parameter, as Perspective's
    clients send it (never logged: access lines carry no query string)."""

    ARGUMENTS_PARSER = SafeJsonParser()

    def __init__(self, *args: Any, key_in_query: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_in_query = key_in_query
        self.before_request(_authenticate_site)
        self.before_request(_require_json_body)
        self.before_request(refuse_impossible_path_values)


def current_site() -> Site | None:
    """The site whose key this request carries (``Authorization: Bearer <api key>``, or
    ``?key=`` where the blueprint takes it there), or
    None; looked up once per request, since the rate limiter needs it before the blueprint's
    own check. Kept in the request's environ, which no other request shares."""
    if _SITE_KEY not in request.environ:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            key = ""
        blueprint = current_app.blueprints.get(request.blueprint or "")
        if not key.strip() and getattr(blueprint, "key_in_query", False):
            key = request.args.get("key", "")
        site = None
        if key.strip():
            site = services().sites.authenticate(key.strip())
        request.environ[_SITE_KEY] = site
    return request.environ[_SITE_KEY]


_SITE_KEY = "moderation.site"


def _authenticate_site() -> None:
    """Authenticate the host site from ``Authorization: Bearer <api key>`` into ``g.site``."""
    site = current_site()
    if site is None:
        abort(401)
    g.site = site


def _require_json_body() -> None:
    if request.method in ("POST", "PUT", "PATCH") and not request.is_json:
        abort(415)


MAX_ROW_ID = 2**63 - 1  # ids are 64-bit columns


def refuse_impossible_path_values() -> None:
    """404 for a path that names what no row can hold: text with NUL or lone surrogates
    (PostgreSQL refuses to even compare them) or an id over 64 bits (the driver cannot send
    it). Run after authentication, so an unauthenticated caller still learns only 401."""
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and text_fault(value) is not None \
                or isinstance(value, int) and value > MAX_ROW_ID:
            abort(404)


SITE_SECURITY = [{"siteKey": []}]
USER_SECURITY = [{"moderatorToken": []}, {"session": []}]


def authenticate_user():
    """The moderator or admin making an API request: by token (``Authorization: Bearer
    mt_...``) or by the web UI's session cookie, when a write must also carry the CSRF token
    (``X-CSRFToken``), as a form would. A body, when there is one, must be JSON."""
    from flask_login import current_user

    from service.extensions import csrf
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        user = services().accounts.authenticate_token(token.strip())
        if user is None:
            abort(401, message="Invalid moderator token.")
    elif current_user.is_authenticated:
        user = current_user._get_current_object()
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()
    else:
        abort(401, message="Sign in, or send 'Authorization: Bearer <moderator token>' "
                           "(flask --app wsgi users token NAME).")
    if request.method in ("POST", "PATCH", "PUT") and (request.content_length or 0) > 0 \
            and not request.is_json:
        abort(415)  # a body must be JSON; some actions need none
    return user


def text_fault(text: str) -> str | None:
    """Why ``text`` cannot be stored as text ("nul", "encoding"), or None when it can.

    NUL and lone surrogates fit in no PostgreSQL text column and belong in no comment; the
    JSON API (:class:`CleanString`) and the web forms both refuse them through this check.
    """
    if "\x00" in text:
        return "nul"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "encoding"
    return None


def load_form(schema: ma.Schema, values: Mapping[str, str]) -> dict[str, Any]:
    """A web page's query or form read by the JSON API's schema for the same input: one set
    of rules for both. Blank fields are left out (a browser sends every field of a form,
    filled or not) and fields the schema does not know are ignored; a refusal is
    :class:`InvalidInput` (422), like the API's."""
    filled = {name: value for name in schema.fields
              if isinstance(value := values.get(name), str) and value.strip()}
    try:
        return schema.load(filled, unknown=ma.EXCLUDE)
    except ma.ValidationError as error:
        raise InvalidInput(error.normalized_messages()) from None


def whole_number(value: str | None) -> int | None:
    """An id or count typed in a form or query as ASCII digits, else None (``"²".isdigit()``
    is true, and int() refuses it; more than 18 digits is no id)."""
    value = (value or "").strip()
    if value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def clean_field(name: str, value: str | None, max_length: int) -> str | None:
    """A web form's or query's value trimmed, None when empty; refused (422) when longer than
    ``max_length`` or holding what no text may hold (NUL, lone surrogates)."""
    value = (value or "").strip()
    if not value:
        return None
    if len(value) > max_length or text_fault(value) is not None:
        raise InvalidInput({name: [f"at most {max_length} characters, no NUL"]})
    return value


class CleanString(ma.fields.String):
    """A string trimmed of surrounding white space, refused if it holds NUL or lone surrogates.

    Neither can be stored in PostgreSQL text, and neither belongs in a comment. Every string
    a client sends goes through this field (or :class:`CleanUrl`).
    """

    default_error_messages = {
        "nul": "Must not contain NUL characters.",
        "encoding": "Must be valid Unicode text.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        fault = text_fault(text)
        if fault is not None:
            raise self.make_error(fault)
        return text


class CleanUrl(CleanString, ma.fields.Url):
    """An http(s) URL with the same hygiene as :class:`CleanString`."""

"""Rate limits on the host-site API (Flask-Limiter).

Each site has a budget per kind of request, counted by the site's id (never its key):
submissions (comments, scoring and other writes; a scoring batch counts each of its texts),
reader flags, and reads. A comment's author
(the site's own author id) has a budget of their own on top: a reader who floods the form is
refused before their comments reach the site's budget, so one abusive reader cannot use up
what the site's other readers need.

Signing in is the one thing a stranger can make the service work hard for (a password check
costs about 0.3 s of a worker): ``POST /login`` is counted per client address (the address
``TRUSTED_PROXIES`` makes ``request.remote_addr``), on top of the per-account back-off.

Counters live in Redis when ``REDIS_URL`` is set (shared by every gunicorn worker and
replica), otherwise in each process's memory. A refused request answers 429 in the API's
error shape with ``Retry-After``. Requests without a valid site key are not counted (they
answer 401), and nothing else outside the host-site API is limited: not ``/healthz``,
``/readyz``, the moderators' pages or their API.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from flask import Flask, Response, current_app, request
from flask_limiter import Limit, Limiter, RateLimitExceeded
from werkzeug.exceptions import HTTPException

from service.api import SiteBlueprint, current_site
from service.config import RateLimits
from service.scoring.schemas import BATCH_BODY_BYTES

# The comment submission endpoint, whose authors are counted too.
SUBMIT_RULE = "/v1/comments"
READ_METHODS = ("GET", "HEAD", "OPTIONS")
# Endpoints that take many texts a request, and the body field that holds them: each text
# counts against the site's budget, and their bodies may be up to BATCH_BODY_BYTES.
BATCH_FIELDS = {"scoring.ScoreBatch": "texts", "openai.Moderations": "input"}
SIGN_IN_ENDPOINT = "accounts.login"


def init_app(app: Flask, limits: RateLimits | None, redis_url: str | None) -> None:
    """Limit the host-site API, or do nothing when ``limits`` is None (``RATE_LIMITS=0``)."""
    if limits is None:
        return
    limiter = Limiter(
        key_func=_site_key,
        default_limits=[
            _site_limit(limits.submissions, "submit", "comments and scoring"),
            _site_limit(limits.flags, "flag", "reader flags"),
            _site_limit(limits.reads, "read", "reads"),
            Limit(limits.author, key_function=_author_key, scope="author", shared=True,
                  exempt_when=lambda: _author_id() is None,
                  error_message=_message("comments by this author", limits.author)),
            Limit(limits.sign_in, key_function=_address_key, scope="sign-in", shared=True,
                  exempt_when=lambda: request.endpoint != SIGN_IN_ENDPOINT
                  or request.method != "POST",
                  error_message=_message("sign-in attempts from one address", limits.sign_in)),
        ],
        storage_uri=redis_url or "memory://",
        # A Redis that goes away must not take submissions with it: each process counts in
        # memory meanwhile, and goes back to Redis once it answers again.
        in_memory_fallback_enabled=redis_url is not None,
        key_prefix=limits.key_prefix,
        strategy="fixed-window",
        headers_enabled=False,  # Retry-After on 429 only (see _too_many_requests)
    )
    # Registered before the limiter's own hook, which runs in the same order: its keys need
    # the site, and a database error here must surface as one, not as a storage failure.
    app.before_request(_identify_site)
    limiter.init_app(app)
    app.extensions["moderation.limiter"] = limiter
    app.register_error_handler(RateLimitExceeded, _too_many_requests)


def _site_limit(rate: str, kind: str, what: str) -> Limit:
    # Counted only when the request passed (or failed) on its own merits: one an author's
    # limit refused never reaches the site's budget, whichever limit is checked first.
    return Limit(rate, key_function=_site_key, scope=f"site-{kind}", shared=True,
                 cost=_cost, exempt_when=lambda: _kind() != kind,
                 deduct_when=lambda response: response.status_code != 429,
                 error_message=_message(f"this site's {what}", rate))


def batch_body_cap() -> None:
    """Batch endpoints read bodies up to 1 MB (500 ordinary comments); others 64 KB. An
    app-wide hook (``create_app``), before the rate limiter's, which reads the body."""
    if request.endpoint in BATCH_FIELDS:
        request.max_content_length = BATCH_BODY_BYTES


def _cost() -> int:
    """What a request takes from the budget: a batch one per text, else one. (A batch
    counted as one request let one site score 500 texts a request and slow every other.)"""
    field = BATCH_FIELDS.get(request.endpoint or "")
    if field is None or not request.is_json:
        return 1
    try:
        body = request.get_json(silent=True)
    except HTTPException:  # too large: the view answers 413
        return 1
    texts = body.get(field) if isinstance(body, dict) else None
    return max(1, len(texts)) if isinstance(texts, list) else 1


def _message(what: str, rate: str) -> str:
    return f"Too many requests: {what} are limited to {rate}."


def _identify_site() -> None:
    if _is_site_request():
        current_site()


def _is_site_request() -> bool:
    return isinstance(current_app.blueprints.get(request.blueprint or ""), SiteBlueprint)


def _kind() -> str | None:
    """Which budget this request draws on; None when it draws on none."""
    if not _is_site_request() or current_site() is None:
        return None
    if request.method in READ_METHODS:
        return "read"
    rule = request.url_rule.rule if request.url_rule else ""
    return "flag" if rule.endswith("/flags") else "submit"


def _site_key() -> str:
    site = current_site()
    return f"site:{site.id}" if site is not None else ""


def _author_id() -> str | None:
    """The author id of a comment being submitted, as the schema will read it; None for any
    other request, or a body the schema will refuse anyway (it is then not counted)."""
    if _kind() != "submit" or request.url_rule is None or request.url_rule.rule != SUBMIT_RULE:
        return None
    if not request.is_json:
        return None
    try:
        body = request.get_json(silent=True)
    except HTTPException:  # too large: the view answers 413
        return None
    author = body.get("author") if isinstance(body, dict) else None
    author_id = author.get("id") if isinstance(author, dict) else None
    if not isinstance(author_id, str) or not author_id.strip():
        return None
    return author_id.strip()


def _author_key() -> str:
    # Hashed: the author id is the client's text, and a storage key is no place for it.
    digest = hashlib.sha256((_author_id() or "").encode("utf-8", "replace")).hexdigest()[:32]
    return f"{_site_key()}:author:{digest}"


def _address_key() -> str:
    # Hashed, as the author key is: an address is personal data.
    digest = hashlib.sha256((request.remote_addr or "").encode()).hexdigest()[:32]
    return f"address:{digest}"


def _too_many_requests(error: RateLimitExceeded) -> Any:
    """429 in the API's error shape, with the seconds until the window resets."""
    retry_after = 60
    limiter: Limiter = current_app.extensions["moderation.limiter"]
    try:
        current = limiter.current_limit
        if current is not None:
            retry_after = max(1, int(current.reset_at - time.time()))
    except Exception:  # storage gone meanwhile: a minute is a fair guess
        pass
    message = f"{error.description} Retry after {retry_after} seconds."
    if request.endpoint == SIGN_IN_ENDPOINT:  # a page, not the API: plain words
        return Response(message, 429, {"Retry-After": str(retry_after)}, mimetype="text/plain")
    error.data = {"message": message, "headers": {"Retry-After": str(retry_after)}}
    return current_app.extensions["moderation.api"].handle_http_exception(error)

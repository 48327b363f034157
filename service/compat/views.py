"""The Perspective API (``/v1alpha1/comments:analyze``, ``:suggestscore``, the discovery
document) and OpenAI's ``/v1/moderations``, each authenticated by the site's API key and
answering errors in its own API's shape."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Blueprint, abort, g, jsonify, request
from flask.views import MethodView

from service.api import SITE_SECURITY, SiteBlueprint
from service.compat.discovery import VERSION, discovery_document
from service.compat.openai_moderation import moderate
from service.compat.perspective import AnalyzeRequest, PerspectiveService, SuggestRequest
from service.compat.schemas import AnalyzeIn, ModerationIn, SuggestIn
from service.container import services

PERSPECTIVE_SECURITY = [{"siteKey": []}, {"perspectiveKey": []}]


class GoogleErrorDetail(ma.Schema):
    code = ma.fields.Integer()
    message = ma.fields.String()
    status = ma.fields.String(metadata={"description": "INVALID_ARGUMENT, RESOURCE_EXHAUSTED, "
                                                       "..."})


class GoogleError(ma.Schema):
    error = ma.fields.Nested(GoogleErrorDetail)


class OpenAIErrorDetail(ma.Schema):
    message = ma.fields.String()
    type = ma.fields.String()
    param = ma.fields.String(allow_none=True)
    code = ma.fields.String(allow_none=True)


class OpenAIError(ma.Schema):
    error = ma.fields.Nested(OpenAIErrorDetail)


class CompatBlueprint(SiteBlueprint):
    """A blueprint imitating another API: its operations document that API's error shape
    (``error_schema``) instead of this service's."""

    def __init__(self, *args: Any, error_schema: type[ma.Schema], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.error_schema = error_schema

    def _prepare_response_doc(self, doc, doc_info, *, api, spec, **kwargs):
        doc_info.setdefault("response", {}).setdefault("responses", {})["default"] = [{
            "schema": self.error_schema, "description": "An error, in this API's shape.",
            "content_type": None}]
        name, api.DEFAULT_ERROR_RESPONSE_NAME = api.DEFAULT_ERROR_RESPONSE_NAME, None
        try:
            return super()._prepare_response_doc(doc, doc_info, api=api, spec=spec, **kwargs)
        finally:
            api.DEFAULT_ERROR_RESPONSE_NAME = name


perspective = CompatBlueprint(
    "perspective", __name__, url_prefix=f"/{VERSION}", key_in_query=True,
    error_schema=GoogleError,
    description="Google's Perspective API (commentanalyzer v1alpha1): point a Perspective "
                "client (Coral Talk, google-api-python-client) at this service. The key is "
                "the site's API key, as `?key=` or a bearer token.")
openai = CompatBlueprint("openai", __name__, url_prefix="/v1", error_schema=OpenAIError,
                         description="OpenAI's moderation endpoint: point an OpenAI SDK's "
                                     "base_url at this service's /v1.")
discovery = Blueprint("discovery", __name__)


def perspective_service() -> PerspectiveService:
    return services().perspective


@perspective.route("/comments:analyze")
class Analyze(MethodView):
    @perspective.doc(security=PERSPECTIVE_SECURITY)
    @perspective.arguments(AnalyzeIn)
    @perspective.response(200)
    def post(self, payload: dict[str, Any]):
        """Score a comment for Perspective's attributes; nothing is stored."""
        return perspective_service().analyze(g.site, AnalyzeRequest(
            text=payload["comment"]["text"], attributes=payload["requestedAttributes"],
            languages=payload.get("languages") or [],
            span_annotations=payload["spanAnnotations"],
            client_token=payload.get("clientToken")))


@perspective.route("/comments:suggestscore")
class SuggestScore(MethodView):
    @perspective.doc(security=PERSPECTIVE_SECURITY)
    @perspective.arguments(SuggestIn)
    @perspective.response(200)
    def post(self, payload: dict[str, Any]):
        """Record the site's verdict on a comment as a training example of the site."""
        return perspective_service().suggest(g.site, SuggestRequest(
            text=payload["comment"]["text"],
            scores={name: attribute["summaryScore"]["value"]
                    for name, attribute in payload["attributeScores"].items()},
            languages=payload.get("languages") or [],
            client_token=payload.get("clientToken")))


@openai.route("/moderations")
class Moderations(MethodView):
    @openai.doc(security=SITE_SECURITY)
    @openai.arguments(ModerationIn)
    @openai.response(200)
    def post(self, payload: dict[str, Any]):
        """Classify texts in OpenAI's moderation shape; `flagged` follows the site's
        policy."""
        return moderate(services().scoring, payload["input"],
                        services().sites.policy(g.site))


@discovery.get("/$discovery/rest")
def discovery_rest():
    """The Perspective discovery document, its methods served from this very address."""
    if request.args.get("version", VERSION) != VERSION:
        abort(404)
    return jsonify(discovery_document(request.host_url))


# -- errors in each API's own shape ------------------------------------------------------

_GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED",
                  404: "NOT_FOUND", 409: "ABORTED", 429: "RESOURCE_EXHAUSTED",
                  500: "INTERNAL", 503: "UNAVAILABLE"}


def perspective_error(code: int, payload: dict) -> tuple[dict, int]:
    """``{"error": {"code", "message", "status"}}``, as Google's APIs answer; what this
    service calls 401, 413, 415 or 422 is Perspective's 400 INVALID_ARGUMENT."""
    code, message = _plain(code, payload)
    if code == 401:  # as Google answers a key it does not know
        code, message = 400, "API key not valid. Please pass a valid API key."
    return {"error": {"code": code, "message": message,
                      "status": _GOOGLE_STATUS.get(code, "UNKNOWN")}}, code


def openai_error(code: int, payload: dict) -> tuple[dict, int]:
    """``{"error": {"message", "type", "param", "code"}}``, as OpenAI's API answers."""
    code, message = _plain(code, payload)
    kind, name = {401: ("invalid_request_error", "invalid_api_key"),
                  429: ("requests", "rate_limit_exceeded")}.get(
        code, ("invalid_request_error" if code < 500 else "server_error", None))
    return {"error": {"message": message, "type": kind, "param": None, "code": name}}, code


def _plain(code: int, payload: dict) -> tuple[int, str]:
    """What both APIs call 400 (this service's 413, 415 and 422), and one line of text
    naming each field at fault."""
    return (400 if code in (413, 415, 422) else code,
            _field_messages(payload.get("errors")) or payload["message"])


def _field_messages(errors: Any, path: str = "") -> str:
    """webargs' nested ``{"json": {"comment": {"text": [...]}}}`` as one line, naming each
    field by its path (a domain error's ``request`` key names none)."""
    if isinstance(errors, list):
        text = " ".join(str(item) for item in errors)
        return f"{path}: {text}" if path else text
    if not isinstance(errors, dict):
        return ""
    parts = []
    for key, value in errors.items():
        inner = path if key in ("json", "query", "request") else \
            f"{path}.{key}" if path else str(key)
        parts.append(_field_messages(value, inner))
    return "; ".join(part for part in parts if part)

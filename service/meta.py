"""Endpoints about the service itself: liveness, readiness and the API reference page."""

from __future__ import annotations

import swagger_ui_bundle
from flask import Blueprint, Response, jsonify, render_template, send_from_directory
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service.container import services
from service.errors import Unavailable
from service.extensions import db

bp = Blueprint("meta", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """Alive: the process answers. Nothing else is checked, so a restart cannot fix it."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready: the database answers and a model is loaded. Load balancers route on this."""
    try:
        model_version = services().scoring.current().version
    except Unavailable:
        model_version = None
    checks = {"database": _database_ok(), "model": model_version is not None}
    ready = all(checks.values())
    body = {"status": "ready" if ready else "unavailable", "checks": checks}
    if model_version is not None:
        body["model_version"] = model_version
    return jsonify(body), 200 if ready else 503


def _database_ok() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        db.session.rollback()
        return False


@bp.get("/docs")
def api_reference() -> str:
    """The OpenAPI document rendered by Swagger UI, served from this host (no CDN)."""
    return render_template("api_docs.html")


@bp.get("/docs/assets/<path:filename>")
def api_reference_assets(filename: str) -> Response:
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)

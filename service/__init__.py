"""The comment moderation service: a Flask app built by :func:`create_app`."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, redirect, request, url_for
from werkzeug.middleware.proxy_fix import ProxyFix

from classifier import ModelRegistry
from service import limits, log, metrics
from service.api import ModerationApi, SafeJSONProvider
from service.config import Settings
from service.extensions import configure_engine, csrf, db, login_manager, migrate

MAX_BODY_BYTES = 64 * 1024


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. ``test_config`` overrides environment variables, as tests need.

    Raises :class:`service.config.ConfigError` naming the first bad setting.
    """
    root = Path(__file__).resolve().parent.parent
    environ = {**os.environ, **(test_config or {})}
    instance_path = Path(environ.get("INSTANCE_PATH") or root / "instance")
    settings = Settings.from_env(environ, instance_path)

    app = Flask(__name__, instance_path=str(instance_path))
    app.json = SafeJSONProvider(app)  # deep JSON is a 400 wherever a body is read
    log.init_app(app)  # first: every later hook and error has the request id
    app.config.update(
        SECRET_KEY=settings.secret_key,
        TESTING=settings.env == "testing",
        MODERATION_SETTINGS=settings,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings.database_url),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        API_TITLE="Comment moderation",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        # Sessions of the moderators' web UI: never readable by scripts, never sent by other
        # sites' forms, only over https outside development and tests.
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.env == "production",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.env == "production",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
    )
    # A failed statement is logged with its traceback; its parameters (comment text, key and
    # password hashes, webhook secrets) must not be in it.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"],
                                               "hide_parameters": True}
    log.configure_logging(settings.log_level, settings.log_format)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(root / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Sign in to see the review queues."
    login_manager.session_protection = "strong"
    login_manager._session_identifier_generator = _session_identifier
    if settings.trusted_proxies:
        # Only then do X-Forwarded-For and -Proto say who the client is (the last N hops).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies,
                                x_proto=settings.trusted_proxies)
    with app.app_context():
        configure_engine(db.engine)
    api = ModerationApi(app)
    app.extensions["moderation.api"] = api
    _wire_services(app, settings)
    _register_endpoints(app, api)
    app.before_request(limits.batch_body_cap)  # before the limiter, which counts the texts
    limits.init_app(app, settings.rate_limits, settings.redis_url)
    metrics.init_app(app, settings.metrics_token)
    app.after_request(_security_headers)
    return app


def _engine_options(database_url: str) -> dict[str, Any]:
    """Pre-ping pooled connections, so a restarted database is found again without a restart
    here; on PostgreSQL give up connecting after 5 s, so an unreachable server answers 503
    while the client still waits, not a hang until gunicorn kills the worker."""
    options: dict[str, Any] = {"pool_pre_ping": True}
    if database_url.startswith("postgresql"):
        options["connect_args"] = {"connect_timeout": 5}
    return options


# No inline script anywhere: comment text is escaped, and even if it were not, a script in
# it could not run. Swagger UI styles its own elements, so the API reference page may.
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
_DOCS_CSP = _CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", _DOCS_CSP if request.path == "/docs" else _CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    return response


def _wire_services(app: Flask, settings: Settings) -> None:
    """Build each domain service once, into the app's :class:`Services` (``services()``)."""
    from service.accounts.services import AccountService
    from service.comments import ports
    from service.compat.perspective import PerspectiveService
    from service.container import EXTENSION, Services
    from service.privacy.services import PrivacyService
    from service.publishing.outbox import EventOutbox
    from service.publishing.services import PublishingService
    from service.retraining.jobs import JobService
    from service.retraining.pipeline import JobExecutor, PendingRescorer, TrainingPipeline
    from service.retraining.services import DecisionExamples, ExampleStore
    from service.retraining.shadow import ShadowService
    from service.retraining.versions import VersionService
    from service.review.dashboard import DashboardService
    from service.review.services import ReviewService
    from service.scoring.service import ScoringService
    from service.sites.services import SiteService
    from service.submission.services import SubmissionService
    # The lifecycle announces changes and keeps decisions through these (comments/ports.py).
    ports.connect(outbox=EventOutbox(), examples=DecisionExamples())

    sites = SiteService(db.session, settings.default_policy,
                        settings.webhook_policy)
    registry = ModelRegistry(settings.model_dir)
    if settings.model_store == "database":
        from service.scoring.database_registry import DatabaseRegistry
        with app.app_context():
            registry = DatabaseRegistry(settings.model_dir, db.engine,
                                        settings.secret_key.encode())
    # Warming a model's caches takes about a second: worth it for a server, not for each test.
    scoring = ScoringService(registry, warm_up=settings.env != "testing")
    examples = ExampleStore(db.session)
    versions = VersionService(db.session, scoring.registry, examples, sites)
    jobs = JobService(db.session)
    pipeline = TrainingPipeline(
        db.session, scoring.registry, examples, versions,
        training_data_dir=settings.training_data_dir,
        default_policy=sites.default_policy(),
        tolerance=settings.promotion_tolerance)
    accounts = AccountService(db.session)
    review = ReviewService(db.session, scoring, claim_seconds=settings.claim_seconds)
    app.extensions[EXTENSION] = Services(
        sites=sites,
        scoring=scoring,
        submissions=SubmissionService(db.session, scoring, sites),
        examples=examples,
        versions=versions,
        jobs=jobs,
        shadow=ShadowService(db.session, scoring.registry, versions),
        job_executor=JobExecutor(jobs, pipeline, PendingRescorer(db.session, scoring, sites)),
        accounts=accounts,
        review=review,
        dashboard=DashboardService(db.session, review),
        publishing=PublishingService(db.session),
        perspective=PerspectiveService(db.session, scoring),
        privacy=PrivacyService(db.session, retain_rejected_days=settings.retain_rejected_days),
    )

    @login_manager.user_loader
    def _load_user(session_id: str):
        return accounts.by_session(session_id)


def _session_identifier() -> str:
    """What strong session protection binds a session to: the client's address as the server
    (or a trusted proxy, ``TRUSTED_PROXIES``) saw it, and its user agent. Flask-Login's own
    reads X-Forwarded-For, which any client can set to match a stolen session's."""
    base = f"{request.remote_addr}|{request.headers.get('User-Agent', '')}"
    return hashlib.sha512(base.encode("utf-8", "replace")).hexdigest()


def _register_endpoints(app: Flask, api: ModerationApi) -> None:
    from service import meta
    from service.accounts import web as accounts_web
    from service.accounts.cli import users_cli
    from service.compat import views as compat_views
    from service.privacy import views as privacy_views
    from service.privacy.cli import privacy_cli
    from service.publishing import views as publishing_views
    from service.publishing import web as publishing_web
    from service.quickstart import quickstart_command
    from service.retraining import api as retraining_api
    from service.retraining import models as retraining_models  # noqa: F401 (table)
    from service.retraining import web as retraining_web
    from service.retraining.cli import data_cli, model_cli
    from service.review import api as review_api
    from service.review import models as review_models  # noqa: F401 (table)
    from service.review import web as review_web
    from service.scoring import models as scoring_models  # noqa: F401 (tables)
    from service.scoring import views as scoring_views
    from service.sites.cli import sites_cli
    from service.submission import views as submission_views
    from service.worker.cli import worker_command

    api.register_blueprint(submission_views.blp)
    api.register_blueprint(scoring_views.blp)
    api.register_blueprint(review_api.blp)
    api.register_blueprint(publishing_views.blp)
    api.register_blueprint(retraining_api.blp)
    api.register_blueprint(privacy_views.blp)
    api.register_blueprint(compat_views.perspective)
    api.register_blueprint(compat_views.openai)
    api.error_shapes["perspective"] = compat_views.perspective_error
    api.error_shapes["openai"] = compat_views.openai_error
    api.spec.components.security_scheme(
        "perspectiveKey", {"type": "apiKey", "in": "query", "name": "key",
                           "description": "The site's API key, as Perspective clients send "
                                          "it. A proxy in front may log query strings."})
    app.register_blueprint(compat_views.discovery)
    app.register_blueprint(meta.bp)
    app.register_blueprint(accounts_web.bp)
    app.register_blueprint(review_web.bp)
    app.register_blueprint(publishing_web.bp)
    app.register_blueprint(retraining_web.bp)
    app.add_url_rule("/", "index", lambda: redirect(url_for("moderation.queue")))
    app.cli.add_command(users_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(sites_cli)
    app.cli.add_command(model_cli)
    app.cli.add_command(data_cli)
    app.cli.add_command(privacy_cli)
    app.cli.add_command(quickstart_command)

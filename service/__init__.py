"""The comment moderation service: a Flask app built by :func:`create_app`."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask

from classifier import ModelRegistry
from service.api import ModerationApi
from service.config import Settings
from service.extensions import configure_engine, db, migrate

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
    app.config.update(
        SECRET_KEY=settings.secret_key,
        TESTING=settings.env == "testing",
        MODERATION_SETTINGS=settings,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        API_TITLE="Comment moderation",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
    )
    _configure_logging(settings.log_level)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(root / "migrations"))
    with app.app_context():
        configure_engine(db.engine)
    api = ModerationApi(app)
    app.extensions["moderation.api"] = api
    _wire_services(app, settings)
    _register_endpoints(app, api)
    return app


def _wire_services(app: Flask, settings: Settings) -> None:
    """Build each domain service once; views and commands look them up in app.extensions."""
    from service.retraining.services import ExampleStore
    from service.scoring.service import ScoringService
    from service.sites.services import SiteService, Thresholds
    from service.submission.services import SubmissionService

    sites = SiteService(db.session, Thresholds(settings.approve_below, settings.reject_at))
    # Warming a model's caches takes about a second: worth it for a server, not for each test.
    scoring = ScoringService(ModelRegistry(settings.model_dir),
                             warm_up=settings.env != "testing")
    app.extensions["moderation.sites"] = sites
    app.extensions["moderation.scoring"] = scoring
    app.extensions["moderation.submissions"] = SubmissionService(db.session, scoring, sites)
    app.extensions["moderation.examples"] = ExampleStore(db.session)


def _register_endpoints(app: Flask, api: ModerationApi) -> None:
    from service import meta
    from service.scoring import views as scoring_views
    from service.retraining import models as retraining_models  # noqa: F401 (table)
    from service.retraining.cli import data_cli, model_cli
    from service.sites.cli import sites_cli
    from service.submission import views as submission_views

    api.register_blueprint(submission_views.blp)
    api.register_blueprint(scoring_views.blp)
    app.register_blueprint(meta.bp)
    app.cli.add_command(sites_cli)
    app.cli.add_command(model_cli)
    app.cli.add_command(data_cli)


def _configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.setLevel(level)

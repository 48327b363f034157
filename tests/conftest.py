"""Shared fixtures: a model trained once from the seed corpus, and an app per database.

Every app test runs on SQLite, and on PostgreSQL too when TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from flask import Flask

# A developer's .env (written by make run) must not change what the tests' flask
# subprocesses see.
os.environ["FLASK_SKIP_DOTENV"] = "1"

from classifier import CommentClassifier, LoadedModel, ModelRegistry, seed_corpus
from classifier.policy import POLICY_KEYS, Rule
from service import create_app
from service.container import services
from service.extensions import db, set_clock

ROOT = Path(__file__).resolve().parent.parent


def _database_per_worker() -> None:
    """Under pytest-xdist (``make test`` runs two workers) each worker gets a PostgreSQL
    database of its own, ``<name>_gw0`` and so on, so workers never drop each other's tables;
    everything that reads TEST_DATABASE_URL follows."""
    worker, base = os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get("TEST_DATABASE_URL")
    if not worker or not base:
        return
    import psycopg
    from sqlalchemy.engine import make_url
    url = make_url(base)
    name = f"{url.database}_{worker}"
    server = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True, connect_timeout=10) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              (name,)).fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')
    os.environ["TEST_DATABASE_URL"] = url.set(database=name).render_as_string(
        hide_password=False)


_database_per_worker()
DATABASES = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def write_small_corpus(directory: Path, rows_per_file: int = 20) -> Path:
    """The first rows of each seed file in ``directory``: training on it takes a second."""
    import csv

    from classifier import LABELS
    directory.mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "training_data").glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as source:
            rows = list(csv.DictReader(source))[:rows_per_file]
        with open(directory / path.name, "w", newline="", encoding="utf-8") as target:
            writer = csv.DictWriter(target, fieldnames=["text", *LABELS])
            writer.writeheader()
            writer.writerows(rows)
    return directory


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """A registry holding one active model trained on training_data/, shared by all tests.

    TEST_MODEL_DIR names a registry to reuse instead (saves a minute when iterating).
    """
    if os.environ.get("TEST_MODEL_DIR"):
        return Path(os.environ["TEST_MODEL_DIR"])
    registry = ModelRegistry(tmp_path_factory.mktemp("models"))
    corpus = seed_corpus(ROOT / "training_data")
    # One fit on everything (train_and_save would fit twice, to measure a held-out share).
    version = registry.save(CommentClassifier().fit(corpus.texts, corpus.y,
                                                    groups=corpus.row_groups()), {
        "training_data": {"source": "seed", "rows": len(corpus)}, "metrics": {}})
    registry.activate(version)
    return registry.root


@pytest.fixture(scope="session")
def seed_model(model_dir) -> LoadedModel:
    return ModelRegistry(model_dir).load_active()


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return os.environ["TEST_DATABASE_URL"]


@pytest.fixture
def app_config(database_url, model_dir, tmp_path) -> dict[str, str]:
    return {"APP_ENV": "testing", "DATABASE_URL": database_url, "MODEL_DIR": str(model_dir),
            "SECRET_KEY": "test-secret-key-not-for-production", "INSTANCE_PATH": str(tmp_path)}


@contextmanager
def fresh_app(config: dict[str, str]) -> Iterator[Flask]:
    """An app on empty tables, dropped again (and its connections closed) afterwards."""
    app = create_app(config)
    with app.app_context():
        db.drop_all()
        db.create_all()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


@pytest.fixture
def app(app_config):
    with fresh_app(app_config) as app:
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


class SettableClock:
    """A clock a test moves by hand (``service.extensions.set_clock``)."""

    def __init__(self) -> None:
        self.current = datetime.now(timezone.utc)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@pytest.fixture
def clock() -> Iterator[SettableClock]:
    """Every ``utcnow()`` of the service reads this clock until the test ends."""
    settable = SettableClock()
    set_clock(settable)
    try:
        yield settable
    finally:
        set_clock(None)


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@dataclass
class SiteKey:
    id: int
    name: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


HOLD_ALL = {key: Rule(0.0, None) for key in POLICY_KEYS}
"""Site rules that hold every comment for review and reject none."""


def make_site(app, name: str, **options) -> SiteKey:
    with app.app_context():
        issued = services(app).sites.create(name, **options)
        return SiteKey(issued.site.id, issued.site.name, issued.api_key)


@pytest.fixture
def site(app) -> SiteKey:
    return make_site(app, "daily-bugle")


@pytest.fixture
def other_site(app) -> SiteKey:
    return make_site(app, "the-planet")


PASSWORD = "correct horse battery staple"


@dataclass
class Account:
    username: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_user(app, username: str, role: str = "moderator", sites: tuple[str, ...] = (),
              password: str = PASSWORD) -> Account:
    with app.app_context():
        accounts = services(app).accounts
        accounts.create(username, password, role, sites)
        return Account(username, password, accounts.issue_token(username))


def csrf_token_of(html: str) -> str:
    import re
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(client, account: Account) -> str:
    """Sign ``client`` in through the login form; returns the session's CSRF token."""
    token = csrf_token_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": account.username,
                                           "password": account.password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    return csrf_token_of(client.get("/moderation/").get_data(as_text=True))


def submit(client, site: SiteKey, text: str, *, article: str = "a-1", author: str = "reader-1",
           **extra) -> dict:
    response = client.post("/v1/comments", headers=site.headers, json={
        "article_id": article, "article_title": f"Article {article}",
        "author": {"id": author, "name": author.title()}, "text": text, **extra})
    assert response.status_code == 201, response.json
    return response.json

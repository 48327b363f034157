"""The Alembic migrations build exactly the schema the models describe, on each database."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from service import create_app
from service.container import services
from service.extensions import belongs_to_dialect, db


def test_migrations_match_the_models(app_config):
    app = create_app(app_config)
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade()
        with db.engine.connect() as connection:
            name = connection.dialect.name
            context = MigrationContext.configure(connection, opts={
                "include_object": lambda obj, *_: belongs_to_dialect(obj, name)})
            diff = compare_metadata(context, db.metadata)
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE alembic_version")
    assert diff == []


@pytest.fixture
def migrated(app_config):
    """An app whose database was built by the migrations, up to ``revision`` when asked."""
    app = create_app(app_config)

    def build(revision: str = "head"):
        with app.app_context():
            db.drop_all()
            with db.engine.begin() as connection:
                connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
            upgrade(revision=revision)
        return app

    yield build
    with app.app_context():
        db.session.remove()
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
            for table in ("users", "login_throttles", "queue_counts", "user_sites", "flags"):
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
            if db.engine.dialect.name == "postgresql":
                connection.exec_driver_sql("DROP FUNCTION IF EXISTS audit_entries_append_only()")


def _run(statements: list[str]) -> None:
    with db.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def test_the_audit_log_is_append_only_in_the_database(migrated):
    app = migrated()
    with app.app_context():
        _run(["INSERT INTO sites (name, key_prefix, key_hash, webhook_secret, flags_to_review, "
              "created_at) VALUES ('s', 'p', 'h', 'w', 3, CURRENT_TIMESTAMP)",
              "INSERT INTO users (username, password_hash, role, created_at) "
              "VALUES ('mary', 'x', 'admin', CURRENT_TIMESTAMP)",
              "INSERT INTO audit_entries (site_id, actor, user_id, action, created_at) "
              "SELECT sites.id, 'mary', users.id, 'approve', CURRENT_TIMESTAMP FROM sites, users"])
        refused = ["UPDATE audit_entries SET actor = 'someone else'"]
        if db.engine.dialect.name == "postgresql":
            refused.append("DELETE FROM audit_entries")
        for statement in refused:
            with pytest.raises(DatabaseError, match="append-only"):
                _run([statement])
        # Deleting the account is still possible: the entry keeps its actor's name.
        _run(["DELETE FROM users"])
        with db.engine.connect() as connection:
            assert connection.execute(text(
                "SELECT actor, user_id FROM audit_entries")).all() == [("mary", None)]


def test_upgrading_keeps_every_row_and_fills_the_new_columns(migrated):
    app = migrated("44c25b012966")
    scores = '{"toxicity": 0.8, "spam": 0.1}'
    with app.app_context():
        _run(["INSERT INTO sites (name, key_prefix, key_hash, webhook_secret, created_at) "
              "VALUES ('s', 'p', 'h', 'w', CURRENT_TIMESTAMP)",
              "INSERT INTO articles (site_id, external_id, created_at) "
              "SELECT id, 'a', CURRENT_TIMESTAMP FROM sites",
              "INSERT INTO authors (site_id, external_id, created_at) "
              "SELECT id, 'u', CURRENT_TIMESTAMP FROM sites"]
             + [f"INSERT INTO comments (site_id, article_id, author_id, parent_id, content_hash, "
                f"text, status, score, scores, reasons, model_version, created_at, updated_at) "
                f"SELECT s.id, a.id, u.id, (SELECT MIN(id) FROM comments), 'h', 't{n}', "
                f"'{status}', 0.7, '{scores}', '[]', 'v', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP "
                f"FROM sites s, articles a, authors u"
                for n, status in enumerate(["approved", "pending_review", "pending_review"])])
        upgrade()
        with db.engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT parent_id IS NOT NULL, top_label FROM comments ORDER BY id")).all()
            counts = dict(connection.execute(text(
                "SELECT status, count FROM queue_counts")).all())
        assert rows == [(False, "toxicity"), (True, "toxicity"), (True, "toxicity")]
        assert counts == {"approved": 1, "pending_review": 2}
        downgrade(revision="44c25b012966")
        with db.engine.connect() as connection:
            kept = connection.execute(text(
                "SELECT COUNT(*), COUNT(parent_id) FROM comments")).one()
        assert tuple(kept) == (3, 2)


def test_a_sites_own_thresholds_become_its_combined_score_rule(migrated):
    app = migrated("a1c0e7d2b9f3")
    with app.app_context():
        _run(["INSERT INTO sites (name, key_prefix, key_hash, webhook_secret, approve_below, "
              "reject_at, created_at) VALUES ('own', 'p1', 'h', 's', 0.3, NULL, "
              "'2026-01-01 00:00:00')",
              "INSERT INTO sites (name, key_prefix, key_hash, webhook_secret, created_at) "
              "VALUES ('default', 'p2', 'h', 's', '2026-01-01 00:00:00')"])
        upgrade()
        sites = services(app).sites
        own, default = sites.policy(sites.get("own")), sites.policy(sites.get("default"))
    assert own.preset == "standard" and list(own.overrides) == ["any"]
    assert (own.rule("any").hold_at, own.rule("any").reject_at) == (0.3, 0.99)
    assert default.overrides == {} and default.preset == "standard"

"""The Alembic migrations build exactly the schema the models describe, on each database."""

from flask_migrate import upgrade
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service import create_app
from service.extensions import db


def test_migrations_match_the_models(app_config):
    app = create_app(app_config)
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade()
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE alembic_version")
    assert diff == []


def test_the_audit_log_is_append_only_in_the_database(app_config):
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DatabaseError

    app = create_app(app_config)
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade()
        try:
            with db.engine.begin() as connection:
                connection.execute(text(
                    "INSERT INTO sites (name, key_prefix, key_hash, webhook_secret, "
                    "flags_to_review, created_at) VALUES ('s', 'p', 'h', 'w', 3, "
                    "CURRENT_TIMESTAMP)"))
                connection.execute(text(
                    "INSERT INTO audit_entries (site_id, actor, action, created_at) "
                    "SELECT id, 'mary', 'approve', CURRENT_TIMESTAMP FROM sites"))
            for statement in ("UPDATE audit_entries SET actor = 'someone else'",
                              "DELETE FROM audit_entries"):
                with pytest.raises(DatabaseError, match="append-only"):
                    with db.engine.begin() as connection:
                        connection.execute(text(statement))
        finally:
            db.session.remove()
            db.drop_all()
            with db.engine.begin() as connection:
                connection.exec_driver_sql("DROP TABLE alembic_version")
                if db.engine.dialect.name == "postgresql":
                    connection.exec_driver_sql(
                        "DROP FUNCTION IF EXISTS audit_entries_append_only()")

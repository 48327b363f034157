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

"""On a database the migrations built, the append-only audit log lets erasure blank a note,
and still refuses every other change."""

from __future__ import annotations

import pytest
from flask_migrate import upgrade
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from service import create_app
from service.container import services
from service.extensions import db
from tests.conftest import make_user, submit
from tests.service.privacy.conftest import decide, held_site


@pytest.fixture
def app(app_config):
    """The app, its tables built by the migrations (with the audit log's triggers)."""
    app = create_app(app_config)
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
            if db.engine.dialect.name == "postgresql":
                connection.exec_driver_sql("DROP FUNCTION IF EXISTS audit_entries_append_only()")
        db.engine.dispose()


def test_erasure_blanks_notes_and_nothing_else_may_change(app, client):
    site = held_site(app, "bugle")
    mary = make_user(app, "mary", "moderator", ("bugle",))
    comment = submit(client, site, "Please forget what I wrote here.")["id"]
    decide(client, mary, comment, "reject", reason="spam", note="it said: forget")

    assert client.delete("/v1/authors/reader-1", headers=site.headers).status_code == 200
    audit = client.get(f"/v1/moderation/comments/{comment}/audit",
                       headers=mary.headers).json["items"]
    assert [(e["action"], e["note"]) for e in audit] == [
        ("submit", None), ("reject", None), ("erase", None)]

    for statement in ("UPDATE audit_entries SET note = 'rewritten'",
                      "UPDATE audit_entries SET actor = 'someone else'",
                      "UPDATE audit_entries SET note = NULL, reason = 'other'"):
        with app.app_context(), pytest.raises(DatabaseError, match="append-only"):
            with db.engine.begin() as connection:
                connection.execute(text(statement))


def test_erasure_blanks_the_reason_readers_gave_and_only_on_a_report(app, client):
    site = held_site(app, "bugle")
    mary = make_user(app, "mary", "moderator", ("bugle",))
    with app.app_context():
        services(app).sites.update("bugle", flags_to_review=1)
    comment = submit(client, site, "My neighbour Jo Bloggs at 12 Mill Lane did it.")["id"]
    decide(client, mary, comment, "approve")
    flagged = client.post(f"/v1/comments/{comment}/flags", headers=site.headers,
                          json={"reason": "names Jo Bloggs of 12 Mill Lane"})
    assert flagged.status_code in (200, 201), flagged.json
    audit = client.get(f"/v1/moderation/comments/{comment}/audit",
                       headers=mary.headers).json["items"]
    assert any(e["action"] == "report" and "Mill Lane" in (e["reason"] or "") for e in audit)

    assert client.delete("/v1/authors/reader-1", headers=site.headers).status_code == 200
    audit = client.get(f"/v1/moderation/comments/{comment}/audit",
                       headers=mary.headers).json["items"]
    assert not any("Mill Lane" in (e["reason"] or "") for e in audit)
    # Only a report's reason may be blanked: a decision's reason is the record.
    other = submit(client, site, "Buy pills now.", author="reader-2")["id"]
    decide(client, mary, other, "reject", reason="spam")
    with app.app_context(), pytest.raises(DatabaseError, match="append-only"):
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE audit_entries SET reason = NULL "
                                    "WHERE action = 'reject'"))

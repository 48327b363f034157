"""Retention: refused comments' text is erased RETAIN_REJECTED_DAYS after the decision."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from service import create_app
from service.comments.models import Comment
from service.config import ConfigError, Settings
from service.container import services
from service.extensions import db, utcnow
from service.privacy.loops import purge_retention
from service.retraining.models import TrainingExample
from service.worker import in_context
from tests.conftest import make_user, submit
from tests.service.privacy.conftest import decide, held_site


def age(app, ids: list[int], days: int) -> None:
    """Make these comments' last change ``days`` old."""
    with app.app_context():
        db.session.execute(update(Comment).where(Comment.id.in_(ids))
                           .values(updated_at=utcnow() - timedelta(days=days)))
        db.session.commit()


def texts(client, site, ids: dict[str, int]) -> dict[str, str]:
    return {name: client.get(f"/v1/comments/{cid}", headers=site.headers).json["text"]
            for name, cid in ids.items()}


@pytest.fixture
def comments(app, client):
    """Comments of every kind, decided by a person; the "old_" ones 91 days ago."""
    site = held_site(app, "bugle")
    mary = make_user(app, "mary", "moderator", ("bugle",))
    ids = {name: submit(client, site, f"The {name} comment, word {name}.")["id"]
           for name in ("old_rejected", "old_removed", "young_rejected", "old_approved",
                        "old_pending")}
    decide(client, mary, ids["old_rejected"], "reject", reason="spam", note="old_rejected")
    decide(client, mary, ids["young_rejected"], "reject", reason="spam")
    for name in ("old_removed", "old_approved"):
        decide(client, mary, ids[name], "approve")
    decide(client, mary, ids["old_removed"], "remove", reason="abuse")
    age(app, [cid for name, cid in ids.items() if name.startswith("old_")], days=91)
    return site, ids


def test_purge_erases_only_old_refused_comments(app, client, runner, comments):
    site, ids = comments
    before = texts(client, site, ids)
    feed_before = client.get("/v1/events", headers=site.headers).json["items"]

    dry = runner.invoke(args=["privacy", "purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "2 comment(s) would be erased" in dry.output
    assert "2 training example(s) would be removed" in dry.output
    assert texts(client, site, ids) == before

    result = runner.invoke(args=["privacy", "purge"])
    assert result.exit_code == 0, result.output
    assert "2 comment(s) were erased" in result.output
    after = texts(client, site, ids)
    assert after == {**before, "old_rejected": "", "old_removed": ""}
    statuses = {name: client.get(f"/v1/comments/{cid}", headers=site.headers).json["status"]
                for name, cid in ids.items()}
    assert statuses == {"old_rejected": "rejected", "old_removed": "removed",
                        "young_rejected": "rejected", "old_approved": "approved",
                        "old_pending": "pending_review"}

    feed = client.get("/v1/events", headers=site.headers).json["items"]
    assert len(feed) == len(feed_before)  # nothing new to announce: none was on the page
    dumped = json.dumps(feed)
    assert "word old_rejected" not in dumped and "word old_removed" not in dumped
    assert "word young_rejected" in dumped and "word old_approved" in dumped
    with app.app_context():
        examples = set(db.session.scalars(select(TrainingExample.text)))
    assert examples == {before["young_rejected"], before["old_approved"]}
    audit = client.get(f"/v1/moderation/comments/{ids['old_rejected']}/audit",
                       headers=make_user(app, "ada", "admin").headers).json["items"]
    assert audit[-1]["action"] == "purge" and audit[-1]["actor"] == "retention"
    assert all(entry["note"] is None for entry in audit)

    again = runner.invoke(args=["privacy", "purge"])
    assert "0 comment(s) were erased" in again.output


def test_the_worker_purges_in_the_background(app, client, comments):
    site, ids = comments
    stop = threading.Event()
    thread = threading.Thread(target=in_context, args=(app, purge_retention, stop))
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while texts(client, site, {"x": ids["old_rejected"]})["x"] and \
                time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert texts(client, site, ids)["old_removed"] == ""
    assert texts(client, site, ids)["young_rejected"] != ""


def test_zero_days_keeps_everything(app, app_config, client, comments):
    site, ids = comments
    keeping = create_app({**app_config, "RETAIN_REJECTED_DAYS": "0"})
    result = keeping.test_cli_runner().invoke(args=["privacy", "purge"])
    assert "nothing to purge" in result.output
    with keeping.app_context():
        assert services(keeping).privacy.purge().comments_erased == 0
        db.session.remove()
        db.engine.dispose()
    assert "" not in texts(client, site, ids).values()


@pytest.mark.parametrize("raw", ["-1", "ninety", "36501"])
def test_a_bad_retention_setting_names_itself(tmp_path, raw):
    with pytest.raises(ConfigError, match="RETAIN_REJECTED_DAYS"):
        Settings.from_env({"APP_ENV": "development", "RETAIN_REJECTED_DAYS": raw}, tmp_path)


def test_purge_leaves_another_sites_example_of_the_same_words(app, client, runner, comments):
    """Retention is nobody's request: it removes the purged site's own examples only, not
    another site's decision on identical words (an author's erasure does remove those)."""
    site, ids = comments
    planet = held_site(app, "planet")
    mary = make_user(app, "mary-planet", "moderator", ("planet",))
    twin = submit(client, planet, "The old_rejected comment, word old_rejected.")["id"]
    decide(client, mary, twin, "approve")  # the example of these words is now the planet's
    assert runner.invoke(args=["privacy", "purge"]).exit_code == 0
    with app.app_context():
        kept = db.session.scalars(select(TrainingExample.site_id).where(
            TrainingExample.text == "The old_rejected comment, word old_rejected.")).all()
    assert kept == [planet.id]

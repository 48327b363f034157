"""Shadow mode beside the active model, and rescoring the pending queue after a promotion."""

import pytest
from sqlalchemy import select

from classifier import LABELS
from service.comments.models import AuditEntry, Comment
from service.container import services
from service.extensions import db
from service.publishing.models import Event
from service.retraining.shadow import ShadowScorer
from tests.conftest import HOLD_ALL, make_site, make_user, submit
from tests.service.retraining.conftest import run_queued_job

CIVIL = ["The council should publish the budget figures before the vote.",
         "Good reporting, but the chart on page two has the years swapped.",
         "Who pays for the bridge repairs, the city or the county?"]
HOSTILE = "You are a worthless idiot and everyone here hates you, get lost moron."


@pytest.fixture
def two_versions(cli_app, admin):
    """An active model and a candidate trained after it."""
    versions = []
    for promote in (True, False):
        cli_app.test_client().post("/v1/admin/models", headers=admin.headers,
                                   json={"promote": promote})
        job = run_queued_job(cli_app)
        assert job.status == "succeeded", job.error
        versions.append(job.model_version)
    return versions


def _shadow_pass(app) -> int:
    with app.app_context():
        return ShadowScorer(db.session, services(app).scoring.registry,
                            services(app).sites).run_once()


def test_a_shadow_model_scores_new_comments_and_reports_agreement(cli_app, admin,
                                                                  two_versions):
    active, candidate = two_versions
    site = make_site(cli_app, "daily-bugle")
    client = cli_app.test_client()
    submit(client, site, "Posted before the shadow run started.")
    assert client.post("/v1/admin/shadow", headers=admin.headers,
                       json={"version": active}).status_code == 409
    started = client.post("/v1/admin/shadow", headers=admin.headers,
                          json={"version": candidate})
    assert started.status_code == 201 and started.json["scored"] == 0

    comments = [submit(client, site, text, author=f"r{i}")
                for i, text in enumerate([*CIVIL, HOSTILE])]
    # Decisions are the active model's alone.
    assert {c["model_version"] for c in comments} == {active}
    assert _shadow_pass(cli_app) == 4
    assert _shadow_pass(cli_app) == 0

    moderator = make_user(cli_app, "mary", "admin")
    published = next(c for c in comments if c["status"] == "approved")
    assert client.post(f"/v1/moderation/comments/{published['id']}/decision",
                       headers=moderator.headers,
                       json={"action": "remove", "reason": "other"}).status_code == 200

    report = client.get("/v1/admin/shadow", headers=admin.headers).json
    assert report["version"] == candidate and report["scored"] == 4
    assert sum(cell["count"] for cell in report["decisions"]) == 4
    assert 0.0 <= report["agreement"] <= 1.0
    assert report["moderators"]["decided"] == 1
    # The moderator took down what the active model published: it disagreed with them.
    assert report["moderators"]["active_agrees"] == 0

    stopped = client.delete("/v1/admin/shadow", headers=admin.headers)
    assert stopped.status_code == 200 and stopped.json["stopped_at"] is not None
    submit(client, site, "Posted after the shadow run stopped.")
    assert _shadow_pass(cli_app) == 0


def test_promoting_with_rescore_decides_the_pending_queue_again(cli_app, admin, two_versions):
    active, candidate = two_versions
    site = make_site(cli_app, "daily-bugle", rules=HOLD_ALL)  # holds all
    client = cli_app.test_client()
    ids = [submit(client, site, text, author=f"r{i}")["id"]
           for i, text in enumerate([*CIVIL, HOSTILE])]
    moderator = make_user(cli_app, "mary", "moderator", (site.name,))
    claimed = ids[0]
    assert client.post(f"/v1/moderation/comments/{claimed}/claim",
                       headers=moderator.headers).status_code == 200
    # Decide on the combined score alone: hold from 0.5, reject from 0.9.
    rules = {label: {"hold_at": None, "reject_at": None} for label in LABELS}
    assert client.put(f"/v1/admin/sites/{site.name}/policy", headers=admin.headers,
                      json={"rules": {**rules, "any": {"hold_at": 0.5, "reject_at": 0.9}}}
                      ).status_code == 200

    promoted = client.post(f"/v1/admin/models/{candidate}/promote", headers=admin.headers,
                           json={"rescore_pending": True})
    assert promoted.status_code == 200, promoted.json
    job = run_queued_job(cli_app)
    assert job.kind == "rescore" and job.status == "succeeded", job.error
    assert job.result["skipped_claimed"] == 1 and job.result["scored"] == 3

    with cli_app.app_context():
        comments = {c.id: c for c in db.session.scalars(select(Comment))}
        # The claimed comment is left to its moderator, untouched.
        assert comments[claimed].status == "pending_review"
        assert comments[claimed].model_version == active
        for comment_id in ids[1:]:
            comment = comments[comment_id]
            assert comment.model_version == candidate
            expected = ("approved" if comment.score < 0.5 else
                        "rejected" if comment.score >= 0.9 else "pending_review")
            assert comment.status == expected, (comment.text, comment.score)
            if expected != "pending_review":
                entry = db.session.scalar(select(AuditEntry).where(
                    AuditEntry.comment_id == comment_id).order_by(AuditEntry.id.desc()))
                assert entry.actor == "classifier"
                assert entry.reason == f"rescored by model {candidate}"
                assert db.session.scalar(select(Event.type).where(
                    Event.comment_id == comment_id).order_by(Event.id.desc())) \
                    == f"comment.{expected}"
        decided = sum(comments[i].status != "pending_review" for i in ids[1:])
        assert job.result["approved"] + job.result["rejected"] == decided

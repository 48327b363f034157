"""Every change a site cares about writes its event in the same transaction as the change."""

import pytest
from sqlalchemy import select

from service.comments.models import Comment
from service.extensions import db
from service.publishing.models import Event
from tests.conftest import HOLD_ALL, make_site, make_user, submit


def events(app, comment_id=None):
    with app.app_context():
        query = select(Event).order_by(Event.id)
        if comment_id is not None:
            query = query.where(Event.comment_id == comment_id)
        return [(e.type, e.status, e.payload["data"]["status"])
                for e in db.session.scalars(query)]


def test_each_decision_writes_its_event_with_the_comment_as_the_api_shows_it(app, client):
    site = make_site(app, "bugle", rules=HOLD_ALL,
                     webhook_url="https://bugle.example/hooks")
    moderator = make_user(app, "mary", "moderator", ("bugle",))
    comment = submit(client, site, "A fair point about the harbour plans.")
    cid = comment["id"]

    def decide(action, **extra):
        response = client.post(f"/v1/moderation/comments/{cid}/decision",
                               json={"action": action, **extra}, headers=moderator.headers)
        assert response.status_code == 200

    decide("approve")
    decide("remove", reason="abuse")
    decide("restore")
    assert events(app, cid) == [
        ("comment.held", "pending", "pending_review"),
        ("comment.approved", "pending", "approved"),
        ("comment.removed", "pending", "removed"),
        ("comment.restored", "pending", "approved")]
    with app.app_context():
        first = db.session.scalar(select(Event).where(Event.comment_id == cid))
        assert first.payload["data"] == {**comment, "status": "pending_review"} | {
            "updated_at": first.payload["data"]["updated_at"]}
        assert first.message_id.startswith("msg_")


def test_reader_flags_that_hide_a_comment_announce_it_held(app, client):
    site = make_site(app, "gazette", webhook_url="https://gazette.example/hooks")
    comment = submit(client, site, "A fair point about the harbour plans.")
    for reader in ("r1", "r2", "r3"):
        client.post(f"/v1/comments/{comment['id']}/flags", headers=site.headers,
                    json={"reason": "abuse", "reporter_id": reader})
    assert [t for t, _, _ in events(app, comment["id"])] == ["comment.approved", "comment.held"]


def test_without_a_webhook_url_events_are_kept_for_the_feed_only(app, client):
    site = make_site(app, "quiet")
    submit(client, site, "A fair point about the harbour plans.")
    assert events(app) == [("comment.approved", "no_endpoint", "approved")]


def test_no_decision_is_stored_without_its_event(app, client, monkeypatch):
    """If writing the event fails, the decision is not stored either (one transaction)."""
    import service.comments.lifecycle as lifecycle

    site = make_site(app, "bugle", rules=HOLD_ALL)
    moderator = make_user(app, "mary", "moderator", ("bugle",))
    cid = submit(client, site, "A fair point about the harbour plans.")["id"]

    def broken(*args, **kwargs):
        raise RuntimeError("the outbox is unavailable")

    monkeypatch.setattr(lifecycle, "_announce", broken)
    with pytest.raises(RuntimeError):
        client.post(f"/v1/moderation/comments/{cid}/decision", json={"action": "approve"},
                    headers=moderator.headers)
    with app.app_context():
        db.session.remove()
        assert db.session.get(Comment, cid).status == "pending_review"
    assert [t for t, _, _ in events(app, cid)] == ["comment.held"]

"""Undo: a moderator takes their own decision of the last minute back. The comment returns
to where it was, audited; the host site's event is withdrawn if it never went out, else
corrected; the decision's training example is forgotten."""

from sqlalchemy import select, update

from service.extensions import db
from service.publishing.models import DeliveryStatus, Event
from service.retraining.models import TrainingExample
from tests.conftest import HOLD_ALL, make_site, make_user, sign_in, submit


def act(client, account, comment_id, action, **extra):
    response = client.post(f"/v1/moderation/comments/{comment_id}/decision",
                           json={"action": action, **extra}, headers=account.headers)
    assert response.status_code == 200, response.json


def undo(client, account, comment_id):
    return client.post(f"/v1/moderation/comments/{comment_id}/undo", headers=account.headers)


def events_of(app, comment_id) -> list[tuple[str, str]]:
    with app.app_context():
        return [(e.type, e.status) for e in db.session.scalars(
            select(Event).where(Event.comment_id == comment_id).order_by(Event.id))]


def examples(app) -> int:
    with app.app_context():
        return db.session.query(TrainingExample).count()


def test_an_event_that_never_went_out_is_withdrawn(app, client):
    site = make_site(app, "bugle", rules=HOLD_ALL, webhook_url="https://bugle.example/hooks")
    moderator = make_user(app, "mary", "moderator", ("bugle",))
    comment_id = submit(client, site, "A fair point about the tram fares.")["id"]
    act(client, moderator, comment_id, "reject", reason="abuse")
    assert examples(app) == 1
    response = undo(client, moderator, comment_id)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "pending_review"
    # The rejection waited for its first attempt: it is gone, nothing else is sent.
    assert events_of(app, comment_id) == [("comment.held", "pending")]
    assert examples(app) == 0
    audit = client.get(f"/v1/moderation/comments/{comment_id}/audit",
                       headers=moderator.headers).json["items"]
    assert [(e["action"], e["status_after"]) for e in audit][-2:] == [
        ("reject", "rejected"), ("undo", "pending_review")]
    # Once: the undo is now the last action, and nothing of hers is left to undo.
    assert undo(client, moderator, comment_id).status_code == 409


def test_an_event_that_went_out_is_corrected(app, client):
    site = make_site(app, "bugle", rules=HOLD_ALL, webhook_url="https://bugle.example/hooks")
    moderator = make_user(app, "mary", "moderator", ("bugle",))
    comment_id = submit(client, site, "The bridge closure was announced too late.")["id"]
    act(client, moderator, comment_id, "approve")
    with app.app_context():  # the worker delivered the approval
        db.session.execute(update(Event).where(Event.type == "comment.approved")
                           .values(status=DeliveryStatus.DELIVERED.value, attempts=1))
        db.session.commit()
    assert undo(client, moderator, comment_id).status_code == 200
    assert events_of(app, comment_id) == [("comment.held", "pending"),
                                          ("comment.approved", "delivered"),
                                          ("comment.held", "pending")]
    assert client.get(f"/v1/comments/{comment_id}", headers=site.headers).json["status"] == \
        "pending_review"


def test_only_ones_own_recent_decision_can_be_undone(app, client, clock):
    site = make_site(app, "bugle", rules=HOLD_ALL)
    mary = make_user(app, "mary", "moderator", ("bugle",))
    pete = make_user(app, "pete", "moderator", ("bugle",))
    first = submit(client, site, "First comment on the budget.")["id"]
    second = submit(client, site, "Second comment on the budget.")["id"]
    act(client, mary, first, "approve")
    refused = undo(client, pete, first)
    assert refused.status_code == 409 and "no decision of yours" in refused.json["message"]
    act(client, mary, second, "approve")
    clock.advance(seconds=59)
    assert undo(client, mary, first).status_code == 200  # within the minute
    clock.advance(seconds=2)
    refused = undo(client, mary, second)  # a minute and a second after her decision
    assert refused.status_code == 409, refused.json


def test_undo_from_the_page(app, client):
    site = make_site(app, "bugle", rules=HOLD_ALL)
    moderator = make_user(app, "mary", "moderator", ("bugle",))
    comment_id = submit(client, site, "A comment about parking permits.")["id"]
    token = sign_in(client, moderator)
    client.post(f"/moderation/comments/{comment_id}/decision",
                data={"action": "approve", "csrf_token": token})
    page = client.get("/moderation/").get_data(as_text=True)
    assert f"You approved comment {comment_id}." in page and "Undo (u)" in page
    done = client.post(f"/moderation/comments/{comment_id}/undo", follow_redirects=True,
                       data={"csrf_token": token}).get_data(as_text=True)
    assert f"Undone: comment {comment_id} is pending review again." in done

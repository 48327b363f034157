"""The admins' deliveries page: endpoint health, retry one, replay since, pause and resume."""

import re

from sqlalchemy import select

from service.extensions import db
from service.publishing.models import Event
from service.publishing.worker import DeliveryWorker
from tests.conftest import make_site, make_user, sign_in, submit


def test_deliveries_page_and_its_actions(app, client, receiver):
    site = make_site(app, "bugle", webhook_url=receiver.url)
    cid = submit(client, site, "A fair point about the harbour plans.")["id"]
    receiver.answer(400)
    with app.app_context():
        DeliveryWorker(db.session, app.config["MODERATION_SETTINGS"].webhook_policy).run_once()
    admin = make_user(app, "ada", "admin")
    token = sign_in(client, admin)
    html = client.get("/moderation/deliveries").get_data(as_text=True)
    assert "HTTP 400: refused, not retried" in html and "failed 1" in html
    assert f'href="/moderation/comments/{cid}"' in html
    event_id = re.search(r"/moderation/deliveries/(\d+)/retry", html).group(1)

    receiver.answer(204)
    client.post(f"/moderation/deliveries/{event_id}/retry", data={"csrf_token": token})
    with app.app_context():
        DeliveryWorker(db.session, app.config["MODERATION_SETTINGS"].webhook_policy).run_once()
        assert db.session.scalar(select(Event.status)) == "delivered"

    paused = client.post(f"/moderation/sites/{site.id}/webhook", follow_redirects=True,
                         data={"action": "pause", "csrf_token": token}).get_data(as_text=True)
    assert "Deliveries to bugle paused." in paused and "paused by an admin" in paused
    client.post(f"/moderation/sites/{site.id}/webhook",
                data={"action": "resume", "csrf_token": token})
    replayed = client.post(f"/moderation/sites/{site.id}/webhook", follow_redirects=True,
                           data={"action": "replay", "since": "2000-01-01T00:00",
                                 "csrf_token": token}).get_data(as_text=True)
    assert "1 event(s) of bugle since 2000-01-01 00:00 UTC queued again." in replayed
    with app.app_context():
        DeliveryWorker(db.session, app.config["MODERATION_SETTINGS"].webhook_policy).run_once()
    assert len(receiver.received) == 3  # refused, retried, replayed
    assert len({r["headers"]["webhook-id"] for r in receiver.received}) == 1
    bad = client.post(f"/moderation/sites/{site.id}/webhook",
                      data={"action": "replay", "since": "yesterday", "csrf_token": token})
    assert bad.status_code == 422

"""The delivery worker against a real receiver: what each answer does to an event and a site."""

import time
from datetime import timedelta

from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook

from service.container import services
from service.extensions import db, utcnow
from service.publishing.models import Event
from service.publishing.worker import PAUSE_AFTER_FAILURES, DeliveryWorker
from service.sites.models import Site
from tests.conftest import make_site, submit


def worker(app) -> DeliveryWorker:
    return DeliveryWorker(db.session, app.config["MODERATION_SETTINGS"].webhook_policy,
                          name="test", timeout=5)


def state(app):
    with app.app_context():
        db.session.remove()
        return [(e.status, e.attempts, e.last_status_code)
                for e in db.session.scalars(select(Event).order_by(Event.id))]


def site_of(app, name):
    with app.app_context():
        db.session.remove()
        return db.session.scalar(select(Site).where(Site.name == name))


def make_due(app):
    """Stands in for the passing of time: every waiting event is due now."""
    with app.app_context():
        db.session.execute(update(Event).values(next_attempt_at=utcnow()))
        db.session.commit()


def test_a_delivery_is_signed_and_carries_the_event(app, client, receiver):
    site = make_site(app, "bugle", webhook_url=receiver.url)
    comment = submit(client, site, "A fair point about the harbour plans.")
    with app.app_context():
        assert worker(app).run_once() == 1
        secret = db.session.scalar(select(Site.webhook_secret))
    assert state(app) == [("delivered", 1, 204)]
    (delivery,) = receiver.received
    payload = Webhook(secret).verify(delivery["body"], delivery["headers"])
    assert payload["type"] == "comment.approved"
    assert payload["data"]["id"] == comment["id"] and payload["data"]["status"] == "approved"
    assert abs(int(delivery["headers"]["webhook-timestamp"]) - time.time()) < 30
    with app.app_context():
        assert delivery["headers"]["webhook-id"] == db.session.scalar(select(Event.message_id))


def test_server_errors_are_retried_with_the_same_id_then_delivered(app, client, receiver):
    site = make_site(app, "bugle", webhook_url=receiver.url)
    submit(client, site, "A fair point about the harbour plans.")
    receiver.answers = [(503, {}), (500, {}), (204, {})]
    with app.app_context():
        worker(app).run_once()
    ((status, attempts, code),) = state(app)
    assert (status, attempts, code) == ("pending", 1, 503)
    with app.app_context():
        db.session.remove()
        wait = db.session.scalar(select(Event.next_attempt_at)) - utcnow()
    assert timedelta(seconds=3) < wait < timedelta(seconds=7)  # 5 s, with jitter
    for _ in range(2):
        make_due(app)
        with app.app_context():
            worker(app).run_once()
    assert state(app) == [("delivered", 3, 204)]
    assert len({r["headers"]["webhook-id"] for r in receiver.received}) == 1
    assert site_of(app, "bugle").webhook_failures == 0


def test_retry_after_is_honoured(app, client, receiver):
    site = make_site(app, "bugle", webhook_url=receiver.url)
    submit(client, site, "A fair point about the harbour plans.")
    receiver.answer(429, {"Retry-After": "120"})
    with app.app_context():
        worker(app).run_once()
        wait = db.session.scalar(select(Event.next_attempt_at)) - utcnow()
    assert wait > timedelta(seconds=115)


def test_other_client_errors_fail_at_once(app, client, receiver):
    site = make_site(app, "bugle", webhook_url=receiver.url)
    submit(client, site, "A fair point about the harbour plans.")
    receiver.answer(400)
    with app.app_context():
        worker(app).run_once()
    assert state(app) == [("failed", 1, 400)]


def test_gone_disables_the_endpoint_until_resumed(app, client, receiver):
    site = make_site(app, "bugle", webhook_url=receiver.url)
    submit(client, site, "A fair point about the harbour plans.")
    receiver.answer(410)
    with app.app_context():
        worker(app).run_once()
    assert site_of(app, "bugle").webhook_pause_reason.startswith("the endpoint answered 410")
    receiver.answer(204)
    submit(client, site, "Another fair point about the harbour.")
    with app.app_context():
        assert worker(app).run_once() == 0  # paused: nothing is attempted
        services(app).publishing.resume(db.session.get(Site, site.id))
        services(app).publishing.retry(
            db.session.scalar(select(Event.id).order_by(Event.id)))
        assert worker(app).run_once() == 2
    assert [s for s, _, _ in state(app)] == ["delivered", "delivered"]


def test_a_failing_site_costs_one_attempt_a_round_and_a_run_of_them_pauses_it(
        app, client, receiver):
    site = make_site(app, "bugle", webhook_url=receiver.url)
    for n in range(5):
        submit(client, site, f"Comment number {n} on the harbour plans.")
    receiver.answer(500)
    with app.app_context():
        assert worker(app).run_once() == 1  # sent: one
        db.session.remove()
        due = set(db.session.scalars(select(Event.next_attempt_at)))
    assert len(receiver.received) == 1  # the others wait with the failed one, unattempted
    assert len(due) == 1 and [a for _, a, _ in state(app)] == [1, 0, 0, 0, 0]
    for _ in range(PAUSE_AFTER_FAILURES - 1):
        make_due(app)
        with app.app_context():
            worker(app).run_once()
    paused = site_of(app, "bugle")
    assert paused.webhook_paused_at is not None
    assert paused.webhook_pause_reason == f"{PAUSE_AFTER_FAILURES} failed attempts in a row"
    assert len(receiver.received) == PAUSE_AFTER_FAILURES
    make_due(app)
    with app.app_context():
        assert worker(app).run_once() == 0  # paused until an admin resumes


def test_an_unreachable_receiver_is_retried(app, client, receiver):
    site = make_site(app, "bugle", webhook_url="http://127.0.0.1:9/hooks")  # discard: closed
    submit(client, site, "A fair point about the harbour plans.")
    with app.app_context():
        worker(app).run_once()
        event = db.session.scalar(select(Event))
        assert (event.status, event.attempts) == ("pending", 1)
        assert "Connection refused" in event.last_error or "Errno" in event.last_error


def test_a_private_url_is_refused_at_delivery_and_pauses_the_site(app, client, receiver):
    site = make_site(app, "bugle", webhook_url=receiver.url)
    submit(client, site, "A fair point about the harbour plans.")
    app.config["MODERATION_SETTINGS"] = app.config["MODERATION_SETTINGS"].__class__(
        **{**vars(app.config["MODERATION_SETTINGS"]), "webhook_allow_private": False})
    with app.app_context():
        worker(app).run_once()
    assert receiver.received == []
    assert state(app) == [("pending", 0, None)]
    assert "loopback, private" in site_of(app, "bugle").webhook_pause_reason


def test_the_previous_secret_signs_during_its_grace_period(app, client, receiver, runner):
    site = make_site(app, "bugle", webhook_url=receiver.url)
    with app.app_context():
        old = db.session.scalar(select(Site.webhook_secret))
    rotated = runner.invoke(args=["sites", "rotate-secret", "bugle", "--grace-hours", "1"])
    new = rotated.output.split(": ")[1].split()[0]
    submit(client, site, "A fair point about the harbour plans.")
    with app.app_context():
        worker(app).run_once()
    delivery = receiver.received[0]
    for secret in (old, new):
        assert Webhook(secret).verify(delivery["body"], delivery["headers"])


def test_a_short_lease_still_delivers(app, client, receiver):
    """The request timeout is kept well inside the lease, so no event is let go unsent."""
    site = make_site(app, "bugle", webhook_url=receiver.url)
    submit(client, site, "A fair point about the harbour plans.")
    with app.app_context():
        short = DeliveryWorker(db.session, app.config["MODERATION_SETTINGS"].webhook_policy,
                               lease_seconds=5)
        assert short.timeout < 5 / 2
        assert short.run_once() == 1
    assert state(app) == [("delivered", 1, 204)]

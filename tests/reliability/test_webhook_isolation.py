"""One site's slow webhook receiver does not delay another site's deliveries.

A receiver that trickles its answer a byte at a time holds a delivery until its deadline
(DEADLINE seconds here). Comments go to that site and to a site whose receiver answers at
once, for SECONDS, while one delivery worker runs. The prompt site's events must each arrive
well within one such deadline: before, they queued behind the trickling ones. Loopback only,
bounded in comments and time.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from bench.abuse import trickling_receiver
from bench.common import percentile
from service.extensions import db
from service.publishing.models import DeliveryStatus, Event
from service.publishing.worker import DeliveryWorker
from service.sites.models import Site
from tests.conftest import make_site, submit
from tests.service.publishing.conftest import receiver  # noqa: F401 (a fixture)

DEADLINE = 4.0
SECONDS = 10
EVERY = 0.25


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WEBHOOK_ALLOW_HTTP": "1", "WEBHOOK_ALLOW_PRIVATE": "1"}


@pytest.fixture
def trickling_url():
    """A receiver that reads each request, then sends its status line a byte every half
    second (it would take 13 s): never done within DEADLINE."""
    url, stop = trickling_receiver()
    yield url
    stop.set()


def test_a_trickling_receiver_does_not_delay_other_sites(app, client, receiver,  # noqa: F811
                                                         trickling_url):
    slow = make_site(app, "slow-receiver", webhook_url=trickling_url)
    prompt = make_site(app, "prompt-receiver", webhook_url=receiver.url)
    stop = threading.Event()

    def deliver() -> None:
        with app.app_context():
            DeliveryWorker(db.session, app.config["MODERATION_SETTINGS"].webhook_policy,
                           name="isolation", timeout=DEADLINE,
                           lease_seconds=60).run(stop, poll_seconds=0.05)

    worker = threading.Thread(target=deliver, daemon=True)
    worker.start()
    try:
        deadline = time.monotonic() + SECONDS
        number = 0
        while time.monotonic() < deadline:
            number += 1
            for site in (slow, prompt):
                submit(client, site, f"The ferry timetable change number {number} is welcome.",
                       author=f"reader-{number}")
            time.sleep(EVERY)
        with app.app_context():
            prompt_id = db.session.scalar(select(Site.id).where(Site.name == "prompt-receiver"))

        def prompt_pending() -> int:
            with app.app_context():
                db.session.remove()
                return len(db.session.scalars(select(Event.id).where(
                    Event.site_id == prompt_id,
                    Event.status == DeliveryStatus.PENDING.value)).all())

        settle = time.monotonic() + 30
        while prompt_pending() and time.monotonic() < settle:
            time.sleep(0.1)
    finally:
        stop.set()
        worker.join(timeout=DEADLINE * 3)
    with app.app_context():
        db.session.remove()
        rows = db.session.execute(select(Event.status, Event.created_at, Event.delivered_at)
                                  .where(Event.site_id == prompt_id)).all()
        slow_attempts = sum(db.session.scalars(select(Event.attempts)
                                               .where(Event.site_id != prompt_id)))
    assert len(rows) == number and all(status == "delivered" for status, _, _ in rows)
    waits = [(delivered - created).total_seconds() for _, created, delivered in rows]
    assert slow_attempts > 0, "the trickling receiver was never tried"
    # Before, each of the prompt site's events could wait behind a trickling delivery's
    # whole deadline; now none waits that long (bench.webhooks reports the p99).
    assert max(waits) < DEADLINE, (f"prompt site's waits: p50 {percentile(waits, 50):.2f} s, "
                                   f"p99 {percentile(waits, 99):.2f} s, max {max(waits):.2f} s")

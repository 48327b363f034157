"""Publishing's background loop: deliver the outbox's events to the sites' webhooks."""

from __future__ import annotations

import threading

from flask import current_app

from service.extensions import db
from service.publishing.worker import DeliveryWorker
from service.worker import Loop, WorkerOptions


def _worker(options: WorkerOptions) -> DeliveryWorker:
    settings = current_app.config["MODERATION_SETTINGS"]
    return DeliveryWorker(db.session, settings.webhook_policy, name=options.name,
                          batch_size=options.batch_size, lease_seconds=options.lease_seconds,
                          lanes=options.lanes)


def deliver(stop: threading.Event, options: WorkerOptions) -> None:
    _worker(options).run(stop, poll_seconds=options.poll_seconds)


def deliver_due(options: WorkerOptions) -> int:
    """Deliver what is due now (`worker --once`); returns how many events were handled."""
    worker, total = _worker(options), 0
    while handled := worker.run_once():
        total += handled
    return total


DELIVERY = Loop("delivery", "signed webhooks to the sites, with retries", deliver)

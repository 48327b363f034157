"""`flask --app wsgi worker`: deliver the outbox's events to the sites' webhooks."""

from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import with_appcontext

from service.extensions import db
from service.publishing.worker import DeliveryWorker


@click.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--batch-size", default=20, show_default=True, type=click.IntRange(1, 500),
              help="Events claimed at a time.")
@click.option("--lease-seconds", default=60, show_default=True, type=click.IntRange(5, 3600),
              help="How long a claimed batch is this worker's before another may take it.")
@click.option("--poll-seconds", default=0.5, show_default=True, type=click.FloatRange(0.05, 60),
              help="Wait between looks when nothing is due.")
@click.option("--name", help="This worker's name in logs and leases (default: random).")
@with_appcontext
def worker_command(once: bool, batch_size: int, lease_seconds: int, poll_seconds: float,
                   name: str | None) -> None:
    """Deliver decisions to the sites' webhooks, signed (Standard Webhooks), with retries.

    Run several on PostgreSQL (one is enough on SQLite). SIGTERM or Ctrl-C stops it after
    the batch in flight.
    """
    settings = current_app.config["MODERATION_SETTINGS"]
    worker = DeliveryWorker(db.session, settings.webhook_policy, name=name,
                            batch_size=batch_size, lease_seconds=lease_seconds)
    if once:
        total = 0
        while handled := worker.run_once():
            total += handled
        click.echo(f"{total} event(s) handled.")
        return
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    worker.run(stop, poll_seconds=poll_seconds)

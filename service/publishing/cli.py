"""`flask --app wsgi worker`: deliver the outbox's events to the sites' webhooks, run the
admins' training jobs, score live comments with a shadow model, and purge refused comments
past their retention period."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Callable

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from service.extensions import db
from service.publishing.worker import DeliveryWorker
from service.retraining.jobs import JobRunner
from service.retraining.shadow import ShadowScorer

log = logging.getLogger(__name__)

LOOPS = ("delivery", "jobs", "shadow", "retention")
"""What a worker runs: webhook delivery, training jobs, shadow scoring, retention purges."""


@click.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--batch-size", default=20, show_default=True, type=click.IntRange(1, 500),
              help="Events claimed at a time.")
@click.option("--lease-seconds", default=60, show_default=True, type=click.IntRange(5, 3600),
              help="How long a claimed batch is this worker's before another may take it.")
@click.option("--poll-seconds", default=0.5, show_default=True, type=click.FloatRange(0.05, 60),
              help="Wait between looks when nothing is due.")
@click.option("--lanes", default=8, show_default=True, type=click.IntRange(1, 64),
              help="Sites delivered to side by side (a slow receiver holds one lane).")
@click.option("--name", help="This worker's name in logs and leases (default: random).")
@click.option("--only", "only", multiple=True, type=click.Choice(LOOPS),
              help="Run only this loop (repeatable): each can then run in a process, "
                   "container or deployment of its own. Default: all four.")
@with_appcontext
def worker_command(once: bool, batch_size: int, lease_seconds: int, poll_seconds: float,
                   lanes: int, name: str | None, only: tuple[str, ...]) -> None:
    """Deliver decisions to the sites' webhooks, signed (Standard Webhooks), with retries;
    run queued training jobs (each in a process of its own); score new comments with the
    shadow model, if one is set.

    Run several on PostgreSQL (one is enough on SQLite). SIGTERM or Ctrl-C stops it after
    the batch in flight (a training job in progress fails, and can be started again).
    `--only delivery` (or jobs, shadow, retention) runs one loop alone.
    """
    settings = current_app.config["MODERATION_SETTINGS"]
    worker = DeliveryWorker(db.session, settings.webhook_policy, name=name,
                            batch_size=batch_size, lease_seconds=lease_seconds, lanes=lanes)
    app = current_app._get_current_object()
    if once:
        total = 0
        while handled := worker.run_once():
            total += handled
        click.echo(f"{total} event(s) handled.")
        return
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    chosen = set(only or LOOPS)
    loops = {"jobs": (_run_jobs, stop, worker.name), "shadow": (_score_shadow, stop),
             "retention": (_purge_retention, stop)}
    helpers = [threading.Thread(target=_in_context, args=(app, *loops[loop]), name=loop,
                                daemon=True) for loop in LOOPS if loop in chosen and loop in loops]
    for thread in helpers:
        thread.start()
    log.info("%s running: %s", worker.name, ", ".join(loop for loop in LOOPS if loop in chosen))
    if "delivery" in chosen:
        worker.run(stop, poll_seconds=poll_seconds)
    else:
        stop.wait()
    for thread in helpers:
        thread.join(timeout=60)


def _in_context(app: Flask, target: Callable[..., None], *args) -> None:
    """Run ``target`` in an app context of its own (so with a database session of its own)."""
    with app.app_context():
        target(*args)


def _run_jobs(stop: threading.Event, name: str) -> None:
    JobRunner(db.session, name=name).run(stop)


def _purge_retention(stop: threading.Event, interval: float = 3600.0) -> None:
    """Erase refused comments past RETAIN_REJECTED_DAYS now, then hourly: at most an hour
    late, and cheap when nothing is due. A failure is logged and tried next hour."""
    privacy = current_app.extensions["moderation.privacy"]
    if not privacy.retain_rejected_days:
        return
    while not stop.is_set():
        try:
            privacy.purge(should_stop=stop.is_set)
        except Exception:
            log.exception("retention purge failed; trying again in an hour")
            db.session.rollback()
        if stop.wait(interval):
            return


def _score_shadow(stop: threading.Event) -> None:
    ShadowScorer(db.session, current_app.extensions["moderation.scoring"].registry,
                 current_app.extensions["moderation.sites"]).run(stop)

"""The `worker` command."""

from __future__ import annotations

import logging
import signal
import threading
import uuid

import click
from flask import current_app
from flask.cli import with_appcontext

from service.worker import LOOP_NAMES, WorkerOptions, loops, run_loops

log = logging.getLogger(__name__)


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
@click.option("--only", "only", multiple=True, type=click.Choice(LOOP_NAMES),
              help="Run only this loop (repeatable): each can then run in a process, "
                   "container or deployment of its own. Default: all four.")
@with_appcontext
def worker_command(once: bool, batch_size: int, lease_seconds: int, poll_seconds: float,
                   lanes: int, name: str | None, only: tuple[str, ...]) -> None:
    """Deliver decisions to the sites' webhooks, signed (Standard Webhooks), with retries;
    run queued training jobs (each in a process of its own); score new comments with the
    shadow model, if one is set; erase refused comments past their retention period.

    Run several on PostgreSQL (one is enough on SQLite). SIGTERM or Ctrl-C stops it after
    the batch in flight (a training job in progress fails, and can be started again).
    `--only delivery` (or jobs, shadow, retention) runs one loop alone.
    """
    options = WorkerOptions(name=name or f"worker-{uuid.uuid4().hex[:8]}",
                            batch_size=batch_size, lease_seconds=lease_seconds,
                            poll_seconds=poll_seconds, lanes=lanes)
    if once:
        if only and only != ("delivery",):
            raise click.UsageError("--once delivers what is due; it runs no other loop")
        from service.publishing.loops import deliver_due
        click.echo(f"{deliver_due(options)} event(s) handled.")
        return
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    declared = loops()
    chosen = [declared[loop] for loop in LOOP_NAMES if loop in (only or LOOP_NAMES)]
    log.info("%s running: %s", options.name, ", ".join(loop.name for loop in chosen))
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # the proxy's app
    failed = run_loops(app, chosen, options, stop)
    if failed:
        raise click.ClickException(f"{', '.join(failed)} failed (see the log above); "
                                   "start the worker again")

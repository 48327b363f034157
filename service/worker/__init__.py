"""`flask --app wsgi worker`: the background loops of every capability, in one process or
one each (`--only`).

Each capability declares its loops (``publishing/loops.py``: webhook delivery;
``retraining/loops.py``: training jobs and shadow scoring; ``privacy/loops.py``: retention
purges); the worker runs the chosen ones, each in a thread with an app context, and so a
database session, of its own, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from flask import Flask

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    """What the command line says about how the loops run."""

    name: str
    batch_size: int = 20
    lease_seconds: int = 60
    poll_seconds: float = 0.5
    lanes: int = 8


@dataclass(frozen=True)
class Loop:
    """A capability's background work: ``run`` returns soon after ``stop`` is set."""

    name: str
    description: str
    run: Callable[[threading.Event, WorkerOptions], None]


LOOP_NAMES = ("delivery", "jobs", "shadow", "retention")
"""The loops, in the order the worker starts them (what `--only` accepts)."""


def loops() -> dict[str, Loop]:
    """Every capability's loop by name (imported here, not at start-up: they load the
    models and the classifier)."""
    from service.privacy.loops import RETENTION
    from service.publishing.loops import DELIVERY
    from service.retraining.loops import JOBS, SHADOW
    declared = {loop.name: loop for loop in (DELIVERY, JOBS, SHADOW, RETENTION)}
    assert tuple(declared) == LOOP_NAMES, "LOOP_NAMES must name every declared loop"
    return declared


def in_context(app: Flask, target: Callable[..., None], *args: object) -> None:
    """Run ``target`` in an app context of its own (so with a database session of its own)."""
    with app.app_context():
        target(*args)


def run_loops(app: Flask, chosen: list[Loop], options: WorkerOptions,
              stop: threading.Event) -> list[str]:
    """Run ``chosen`` side by side until ``stop`` is set, then give them a minute in all to
    end. A loop that fails sets ``stop`` for the others: the process then exits, and its
    supervisor (make run's shell, the container runtime) starts it again, rather than a
    worker living on with a loop dead. Returns the names of the loops that failed."""
    failed: list[str] = []

    def guarded(loop: Loop) -> None:
        try:
            in_context(app, loop.run, stop, options)
        except BaseException:
            log.exception("the %s loop failed; stopping the worker", loop.name)
            failed.append(loop.name)
            stop.set()

    threads = [threading.Thread(target=guarded, args=(loop,), name=loop.name, daemon=True)
               for loop in chosen]
    for thread in threads:
        thread.start()
    stop.wait()
    deadline = time.monotonic() + 60
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    return failed

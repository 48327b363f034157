"""Retraining's background loops: run the admins' queued jobs, and score new comments with
the shadow model when one is set."""

from __future__ import annotations

import threading

from service.container import services
from service.extensions import db
from service.retraining.jobs import JobRunner
from service.retraining.shadow import ShadowScorer
from service.worker import Loop, WorkerOptions


def run_jobs(stop: threading.Event, options: WorkerOptions) -> None:
    JobRunner(db.session, name=options.name).run(stop)


def score_shadow(stop: threading.Event, options: WorkerOptions) -> None:
    ShadowScorer(db.session, services().scoring.registry, services().sites).run(stop)


JOBS = Loop("jobs", "training and rescoring jobs, each in a process of its own", run_jobs)
SHADOW = Loop("shadow", "new comments scored by the shadow model", score_shadow)

"""Training jobs: queued by an admin, run by the worker in a process of their own.

A job runs in a child process (``flask model run-job ID``) so that training never slows a web
request or the webhook deliveries, and so that a crash, however hard (out of memory, killed),
ends only the job: the worker sees the child die and marks the job failed. The model registry
writes an artifact in one rename, so a failed job never leaves half a model behind.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Callable, Mapping

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.errors import Conflict, NotFound
from service.extensions import utcnow
from service.retraining.models import FINISHED, JobKind, JobStatus, TrainingJob

log = logging.getLogger(__name__)

# A running job's heartbeat older than this means its worker died with it (a running job
# beats every HEARTBEAT_SECONDS, whatever step it is in).
STALE_AFTER = timedelta(minutes=5)
HEARTBEAT_SECONDS = 15
# How long a running job may take to notice it was cancelled before it is stopped.
CANCEL_GRACE_SECONDS = 30


class JobCancelled(Exception):
    """An admin cancelled the job; raised from its progress reports."""


class JobService:
    """Queue, read, cancel and claim jobs."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def enqueue(self, kind: JobKind, *, requested_by: str, params: dict | None = None,
                status: JobStatus = JobStatus.QUEUED) -> TrainingJob:
        """Queue a job. Only one job of a kind may be queued or running at a time (a unique
        index makes sure of it): a second training on the same examples would only race the
        first."""
        self.fail_stale()  # a job whose worker died must not block the next one
        busy = self.unfinished(kind)
        if busy is not None:
            raise Conflict(f"{kind.value} job {busy} is already queued or running")
        now = utcnow()
        job = TrainingJob(kind=kind.value, requested_by=requested_by, params=params or {},
                          status=status.value, created_at=now,
                          started_at=now if status is JobStatus.RUNNING else None,
                          heartbeat_at=now if status is JobStatus.RUNNING else None,
                          stage="waiting for the worker" if status is JobStatus.QUEUED
                          else "starting", progress=0.0, cancel_requested=False)
        self.session.add(job)
        try:
            self.session.commit()
        except IntegrityError:
            self.session.rollback()
            raise Conflict(f"a {kind.value} job is already queued or running") from None
        return job

    def unfinished(self, kind: JobKind) -> int | None:
        """The id of the queued or running job of ``kind``, if there is one."""
        return self.session.scalar(select(TrainingJob.id).where(
            TrainingJob.kind == kind.value,
            TrainingJob.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value])))

    def get(self, job_id: int) -> TrainingJob:
        job = self.session.get(TrainingJob, job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        self.session.refresh(job)
        return job

    def recent(self, limit: int = 20) -> list[TrainingJob]:
        return list(self.session.scalars(select(TrainingJob).order_by(TrainingJob.id.desc())
                                         .limit(limit)))

    def cancel(self, job_id: int) -> TrainingJob:
        """Cancel a queued job at once; ask a running one to stop at its next step."""
        job = self.get(job_id)
        if job.status in FINISHED:
            raise Conflict(f"job {job_id} has already {job.status}")
        changed = self.session.execute(
            update(TrainingJob).where(TrainingJob.id == job_id,
                                      TrainingJob.status == JobStatus.QUEUED.value)
            .values(status=JobStatus.CANCELLED.value, stage="cancelled before it started",
                    finished_at=utcnow(), cancel_requested=True)).rowcount
        if not changed:
            changed = self.session.execute(
                update(TrainingJob).where(TrainingJob.id == job_id,
                                          TrainingJob.cancellable.is_(True))
                .values(cancel_requested=True)).rowcount
            self.session.commit()
            if not changed:
                raise Conflict(f"job {job_id} has saved its model and is finishing: it can no "
                               "longer be cancelled")
        self.session.commit()
        return self.get(job_id)

    def claim_next(self, worker: str) -> TrainingJob | None:
        """Take the oldest queued job for ``worker``; None when there is none. The claim is
        one conditional UPDATE, so two workers never run the same job."""
        while True:
            job_id = self.session.scalar(select(TrainingJob.id).where(
                TrainingJob.status == JobStatus.QUEUED.value).order_by(TrainingJob.id).limit(1))
            if job_id is None:
                self.session.commit()
                return None
            now = utcnow()
            taken = self.session.execute(
                update(TrainingJob).where(TrainingJob.id == job_id,
                                          TrainingJob.status == JobStatus.QUEUED.value)
                .values(status=JobStatus.RUNNING.value, worker=worker, started_at=now,
                        heartbeat_at=now, stage="starting")).rowcount
            self.session.commit()
            if taken:
                return self.get(job_id)

    def heartbeat(self, job_id: int) -> tuple[bool, bool]:
        """Note that the job's worker is alive; returns (asked to cancel, still cancellable)."""
        self.session.execute(update(TrainingJob).where(
            TrainingJob.id == job_id, TrainingJob.status == JobStatus.RUNNING.value)
            .values(heartbeat_at=utcnow()))
        self.session.commit()
        row = self.session.execute(select(TrainingJob.cancel_requested, TrainingJob.cancellable)
                                   .where(TrainingJob.id == job_id)).one()
        return bool(row[0]), bool(row[1])

    def finish(self, job_id: int, status: JobStatus, *, stage: str, error: str | None = None,
               result: dict | None = None, model_version: str | None = None) -> bool:
        """End a running job; False when it had already ended."""
        values: dict = {"status": status.value, "stage": stage, "finished_at": utcnow()}
        if status is JobStatus.SUCCEEDED:
            values["progress"] = 1.0
        if error is not None:
            values["error"] = error[:4000]
        if result is not None:
            values["result"] = result
        if model_version is not None:
            values["model_version"] = model_version
        changed = self.session.execute(update(TrainingJob).where(
            TrainingJob.id == job_id, TrainingJob.status == JobStatus.RUNNING.value)
            .values(**values)).rowcount
        self.session.commit()
        return bool(changed)

    def fail_stale(self) -> int:
        """Mark failed the running jobs whose worker stopped sending heartbeats."""
        cutoff = utcnow() - STALE_AFTER
        stale = list(self.session.scalars(select(TrainingJob.id).where(
            TrainingJob.status == JobStatus.RUNNING.value, TrainingJob.heartbeat_at < cutoff)))
        for job_id in stale:
            self.finish(job_id, JobStatus.FAILED, stage="failed",
                        error="the worker running this job stopped (no heartbeat since "
                              f"{cutoff:%Y-%m-%d %H:%M} UTC); nothing was saved")
        return len(stale)


class JobProgress:
    """Stage and progress of one running job, written to its row. Until the job has saved
    its model (:meth:`saved`) it raises :class:`JobCancelled` once an admin asked to cancel,
    or once the job is no longer running (marked failed by another worker)."""

    def __init__(self, session: Session, job_id: int, *,
                 echo: Callable[[str], None] | None = None, min_interval: float = 0.5) -> None:
        self.session = session
        self.job_id = job_id
        self.echo = echo
        self.min_interval = min_interval
        self.cancellable = True
        self._stage = ""
        self._written = 0.0

    def __call__(self, stage: str, done: float) -> None:
        now = time.monotonic()
        if stage == self._stage and now - self._written < self.min_interval:
            return
        if stage != self._stage and self.echo:
            self.echo(f"[{done:4.0%}] {stage}")
        self._stage, self._written = stage, now
        running = self.session.execute(
            update(TrainingJob).where(TrainingJob.id == self.job_id,
                                      TrainingJob.status == JobStatus.RUNNING.value)
            .values(stage=stage[:200], progress=round(min(max(done, 0), 1), 4),
                    heartbeat_at=utcnow())).rowcount
        cancelled = self.session.scalar(select(TrainingJob.cancel_requested)
                                        .where(TrainingJob.id == self.job_id))
        self.session.commit()
        if self.cancellable and (cancelled or not running):
            raise JobCancelled(f"job {self.job_id} was cancelled" if running
                               else f"job {self.job_id} is no longer running")

    def saved(self) -> None:
        """The model is saved: from here the job finishes, and cannot be cancelled."""
        self.cancellable = False
        self.session.execute(update(TrainingJob).where(TrainingJob.id == self.job_id)
                             .values(cancellable=False))
        self.session.commit()


class JobRunner:
    """The worker's loop over queued jobs: each runs in a child process it watches."""

    def __init__(self, session: Session, *, name: str, env: Mapping[str, str] | None = None,
                 command: list[str] | None = None, poll_seconds: float = 1.0) -> None:
        self.jobs = JobService(session)
        self.name = name
        self.env = {**os.environ, **(env or {})}
        root = Path(__file__).resolve().parents[2]
        self.command = command or [sys.executable, "-m", "flask", "--app", str(root / "wsgi.py"),
                                   "model", "run-job"]
        self.poll_seconds = poll_seconds

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                ran = self.run_once(stop)
            except Exception:  # a database blip must not end the worker
                log.exception("%s: job loop failed", self.name)
                self.jobs.session.rollback()
                ran = False
            if not ran:
                stop.wait(self.poll_seconds)

    def run_once(self, stop: threading.Event | None = None) -> bool:
        """Run the oldest queued job to its end; False when none was queued."""
        self.jobs.fail_stale()
        job = self.jobs.claim_next(self.name)
        if job is None:
            return False
        log.info("%s: running %s job %s", self.name, job.kind, job.id)
        child = subprocess.Popen([*self.command, str(job.id)], env=self.env,
                                 stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        tail = _Tail(child)
        cancel_seen: float | None = None
        stopping = False
        cancellable = True
        while child.poll() is None:
            time.sleep(1.0)
            try:
                cancel, cancellable = self.jobs.heartbeat(job.id)
            except Exception:  # keep watching the child through a database blip
                log.exception("%s: heartbeat of job %s failed", self.name, job.id)
                self.jobs.session.rollback()
                continue
            if stop is not None and stop.is_set() and not stopping and cancellable:
                stopping = True  # the worker is shutting down: the job ends with it
                child.terminate()
            if cancel and cancellable and not stopping:
                cancel_seen = cancel_seen or time.monotonic()
                if time.monotonic() - cancel_seen > CANCEL_GRACE_SECONDS:
                    child.terminate()
        tail.join()
        if stopping:
            how = "was stopped with the worker"
        elif child.returncode < 0:
            how = f"was killed by signal {signal.Signals(-child.returncode).name}"
        else:
            how = f"exited with code {child.returncode}"
        cancelled = cancel_seen is not None
        if self.jobs.finish(job.id, JobStatus.CANCELLED if cancelled else JobStatus.FAILED,
                            stage="cancelled" if cancelled else "failed",
                            error=f"the job's process {how}; nothing was saved\n{tail.text()}"):
            log.error("%s: job %s's process %s", self.name, job.id, how)
        return True


class _Tail(threading.Thread):
    """Passes on what a child writes to stderr (into the worker's log), keeping the last
    lines for the job's error."""

    def __init__(self, child: subprocess.Popen) -> None:
        super().__init__(daemon=True)
        self.child = child
        self.lines: list[str] = []
        self.start()

    def run(self) -> None:
        for line in self.child.stderr:
            sys.stderr.write(line)
            self.lines = [*self.lines[-19:], line.rstrip()]

    def text(self) -> str:
        return "\n".join(self.lines)

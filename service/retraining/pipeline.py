"""What a job does: train a candidate and judge it against the active model, or score the
pending queue again with a newly promoted one."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from classifier import (
    LABELS,
    Corpus,
    LoadedModel,
    ModelNotFound,
    ModelRegistry,
    ModelRejected,
    normalize,
    seed_corpus,
)
from classifier.canary import canary_report, suspicious_words
from classifier.charts import render_charts
from classifier.evaluation import REAL, WRITTEN, evaluation_report, gate_on_real_comments
from classifier.policy import Policy
from classifier.shared import harmful_truth
from service.comments.lifecycle import CLASSIFIER, Action, transition
from service.comments.models import AuditEntry, Comment, CommentStatus
from service.errors import Conflict
from service.extensions import utcnow
from service.retraining.jobs import HEARTBEAT_SECONDS, JobCancelled, JobProgress, JobService
from service.retraining.models import (
    JobKind,
    JobStatus,
    ModelChart,
    ModelRecord,
    TrainingJob,
    VersionStatus,
)
from service.retraining.services import SEED_SOURCE, ExampleStore, text_key
from service.retraining.versions import VersionService
from service.scoring.service import ScoringService

if TYPE_CHECKING:
    from classifier import CommentClassifier
from service.sites.services import SiteService
from service.submission.services import apply_standing, likely_label

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
MIN_TRAINING_ROWS = 20
REAL_FOR_GAIN = 1000
# Held-out harmful seed rows that decisions may relabel harmless before the candidate is held.
MAX_FLIPS, MAX_FLIP_SHARE = 20, 0.02
"""Real decisions from which retraining paid off on real comments it never saw (a model
retrained with fewer measured no better than the default: bench.retraining)."""


@dataclass(frozen=True)
class TrainingOutcome:
    version: str
    status: str
    gate: dict[str, Any]
    train_rows: int
    eval_rows: int
    report: dict[str, Any]
    baseline_version: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "status": self.status, "gate": self.gate,
                "train_rows": self.train_rows, "eval_rows": self.eval_rows,
                "baseline_version": self.baseline_version,
                "metrics": self.report["labels"], "decisions": self.report["decisions"]}


class TrainingPipeline:
    """Train on the example store, evaluate on its evaluation set beside the active model,
    save the candidate with its report, and promote it when it passes the gate."""

    def __init__(self, session: Session, registry: ModelRegistry, examples: ExampleStore,
                 versions: VersionService, *, training_data_dir: Path, default_policy: Policy,
                 tolerance: float) -> None:
        self.session = session
        self.registry = registry
        self.examples = examples
        self.versions = versions
        self.training_data_dir = training_data_dir
        self.default_policy = default_policy
        self.tolerance = tolerance

    def run(self, progress: Progress, *, job_id: int | None, actor: str, promote: bool,
            on_saved: Callable[[], None] = lambda: None) -> TrainingOutcome:
        """The whole job. ``progress`` may raise to stop it; once the artifact is saved,
        ``on_saved`` is called (the job stops being cancellable there)."""
        progress("collecting examples", 0.0)
        seed = seed_corpus(self.training_data_dir)
        added = self.examples.sync_seed(seed)
        if added:
            log.info("added %d seed examples to the store", added)
        held_out = self.examples.extend_evaluation_set(random_state=job_id or 0)
        if held_out:
            log.info("held %d examples out for evaluation", held_out)
        ids, train_corpus, weights = self.examples.training_set()
        _, eval_sources, eval_corpus = self.examples.evaluation_set()
        written = np.array([source == SEED_SOURCE for source in eval_sources], dtype=bool)
        if len(train_corpus) < MIN_TRAINING_ROWS:
            raise ValueError(f"need at least {MIN_TRAINING_ROWS} training examples, "
                             f"have {len(train_corpus)}")
        progress(f"training on {len(train_corpus):,} examples", 0.05)
        from classifier.model import CommentClassifier  # scikit-learn: only where it trains
        model = CommentClassifier().fit(
            train_corpus.texts, train_corpus.y, sample_weight=weights,
            groups=_calibration_groups(train_corpus.texts, seed),
            on_step=lambda step, done: progress(step, 0.05 + 0.7 * done))

        progress(f"evaluating on {len(eval_corpus):,} held-out examples", 0.75)
        report = self._report(model, eval_corpus, written)
        baseline = self._active()
        baseline_report = self._report(baseline.model, eval_corpus, written) if baseline else None
        gate = gate_on_real_comments(report, baseline_report, tolerance=self.tolerance).as_dict()
        real = self.examples.real_counts()["real"]
        if not gate["passed"] and real < REAL_FOR_GAIN:
            gate["advice"] = (
                f"The candidate learned from {real:,} real comments beside the written seed "
                f"corpus. With fewer than about {REAL_FOR_GAIN:,}, a retrained model measured "
                "no better than the default one on real comments it never saw: keep the "
                "active model, and retrain when more decisions have come in.")
        if baseline and self.session.get(ModelRecord, baseline.version) is None:
            # The active model was not trained by a job on this store's split: it may have
            # learned the evaluation rows, and would look better than it is. Shown, not gated.
            gate = {**gate, "passed": True, "reasons": [
                f"not gated: the active model {baseline.version} was trained outside the "
                "example store's split and may have learned the evaluation rows"]}
        progress("checking for poisoning", 0.8)
        gate["poisoning"] = self._poisoning(model, baseline, seed, eval_corpus)
        if gate["poisoning"]["reasons"]:
            gate["passed"] = False
            gate["reasons"] = [*gate["reasons"], *gate["poisoning"]["reasons"]]
        progress("drawing charts", 0.85)
        reports = {"candidate": report}
        if baseline_report is not None:
            reports[f"active {baseline.version}"] = baseline_report
        charts = render_charts(reports)

        progress("saving the model", 0.9)
        version = self.registry.save(model, {
            "training_data": {"source": "example store", "fingerprint": train_corpus.fingerprint(),
                              "rows": len(train_corpus), "eval_rows": len(eval_corpus),
                              "label_counts": train_corpus.label_counts()},
            "metrics": report["labels"],
        })
        on_saved()
        status = VersionStatus.CANDIDATE if gate["passed"] else VersionStatus.HELD
        self.session.add(ModelRecord(
            version=version, status=status.value, job_id=job_id, train_rows=len(train_corpus),
            eval_rows=len(eval_corpus), report=report,
            baseline_version=baseline.version if baseline else None,
            baseline_report=baseline_report, gate=gate, created_at=utcnow()))
        self.session.flush()
        self.session.add_all(ModelChart(version=version, name=name, png=png)
                             for name, png in charts.items())
        self.session.commit()
        progress("recording which examples it learned", 0.95)
        self.examples.mark_trained(ids, version)
        if promote and gate["passed"]:
            progress("promoting", 0.98)
            self.versions.promote(version, actor=actor)
            status = VersionStatus.ACTIVE
        progress("done", 1.0)
        return TrainingOutcome(version=version, status=status.value, gate=gate,
                               train_rows=len(train_corpus), eval_rows=len(eval_corpus),
                               report=report,
                               baseline_version=baseline.version if baseline else None)

    def _poisoning(self, model: CommentClassifier, baseline: LoadedModel | None, seed: Corpus,
                   eval_corpus: Corpus) -> dict[str, Any]:
        """The canary checks (classifier/canary.py) with what only the store knows: which
        held-out rows are the seed corpus's (the canary, labelled as its files say), how
        many of them decisions relabelled, what moderators passed that the active model
        found harmful (where trigger words come from), and who decided how much."""
        written = {text_key(text): truth
                   for text, truth in zip(seed.texts, harmful_truth(seed.y))}
        canary, flips = [], {"to_harmless": 0, "to_harmful": 0}
        for text, stored in zip(eval_corpus.texts, harmful_truth(eval_corpus.y)):
            truth = written.get(text_key(text))
            if truth == 1:
                canary.append(text)
                flips["to_harmless"] += int(stored == 0)
            elif truth == 0:
                flips["to_harmful"] += int(stored == 1)
        words: list[str] = []
        if baseline is not None:
            decisions = self.examples.new_decisions()
            harmless = [text for text, truth in zip(decisions.texts,
                                                    harmful_truth(decisions.y)) if truth == 0]
            if harmless:
                flagged = self.default_policy.actions(baseline.model.predict_proba(harmless)) > 0
                words = suspicious_words([t for t, f in zip(harmless, flagged) if f], seed.texts)
        report = canary_report(model, baseline.model if baseline else None, canary,
                               self.default_policy, probe_words=words)
        report["label_flips"] = flips
        if flips["to_harmless"] > max(MAX_FLIPS, MAX_FLIP_SHARE * len(canary)):
            report["reasons"].append(
                f"decisions relabelled {flips['to_harmless']:,} held-out harmful examples of "
                "the seed corpus as harmless: the evaluation set no longer measures what it "
                "did")
        report["moderators"] = self._decisions_by_moderator(baseline)
        return report

    def _decisions_by_moderator(self, baseline: LoadedModel | None) -> list[dict[str, Any]]:
        """Approvals and rejections per person since the active model was trained (all of
        them when none was), and how many went against the model's likelier verdict."""
        since = self.session.scalar(select(ModelRecord.created_at).where(
            ModelRecord.version == baseline.version)) if baseline else None
        where = [AuditEntry.user_id.is_not(None),
                 AuditEntry.action.in_((Action.APPROVE.value, Action.REJECT.value))]
        if since is not None:
            where.append(AuditEntry.created_at >= since)
        rows = self.session.execute(
            select(AuditEntry.actor, func.count(),
                   func.count().filter(AuditEntry.overturned.is_(True)))
            .where(*where).group_by(AuditEntry.actor)
            .order_by(func.count().desc(), AuditEntry.actor).limit(10)).all()
        return [{"moderator": actor, "decisions": int(total), "overturned": int(overturned)}
                for actor, total, overturned in rows]

    def _active(self) -> LoadedModel | None:
        try:
            return self.registry.load_active()
        except ModelNotFound:
            return None
        except ModelRejected as error:
            log.warning("the active model cannot be loaded to compare with: %s", error)
            return None

    def _report(self, model: CommentClassifier, corpus: Corpus,
                written: np.ndarray) -> dict[str, Any]:
        """The report on the whole evaluation set, with its real comments and its written
        examples apart (``parts``) when it holds both."""
        proba = model.predict_proba(corpus.texts)
        report = evaluation_report(proba, corpus.y, LABELS, policy=self.default_policy)
        if written.any() and not written.all():
            report["parts"] = {
                part: _without_curves(evaluation_report(proba[rows], corpus.y[rows], LABELS,
                                                        policy=self.default_policy))
                for part, rows in ((REAL, ~written), (WRITTEN, written))}
        return report


@dataclass
class RescoreOutcome:
    version: str
    scored: int = 0
    approved: int = 0
    rejected: int = 0
    still_pending: int = 0
    skipped_claimed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class PendingRescorer:
    """Score every comment waiting in the pending queue again with the active model, and
    decide again: those it is now sure of leave the queue (as the classifier's decision,
    audited and announced); the rest stay, with their new scores. A comment a moderator
    holds a live claim on is left alone."""

    BATCH = 200

    def __init__(self, session: Session, scoring: ScoringService, sites: SiteService) -> None:
        self.session = session
        self.scoring = scoring
        self.sites = sites

    def run(self, progress: Progress) -> RescoreOutcome:
        loaded = self.scoring.current(fresh=True)
        outcome = RescoreOutcome(version=loaded.version)
        pending = CommentStatus.PENDING_REVIEW.value
        total = self.session.scalar(select(func.count()).select_from(Comment)
                                    .where(Comment.status == pending)) or 0
        last_id = 0
        while True:
            progress(f"rescoring the pending queue ({outcome.scored:,} of ~{total:,})",
                     outcome.scored / max(total, 1))
            batch = list(self.session.scalars(
                select(Comment).where(Comment.status == pending, Comment.id > last_id)
                .order_by(Comment.id).limit(self.BATCH)))
            if not batch:
                break
            last_id = batch[-1].id
            now = utcnow()
            free = [c for c in batch if not (c.claimed_by_id is not None and c.claim_expires_at
                                             and c.claim_expires_at > now)]
            outcome.skipped_claimed += len(batch) - len(free)
            by_site: dict[int, list[Comment]] = {}
            for comment in free:
                by_site.setdefault(comment.site_id, []).append(comment)
            for comments in by_site.values():
                policy = self.sites.policy(comments[0].site)
                assessments = ScoringService.assess_with(loaded, [c.text for c in comments],
                                                         policy)
                for comment, assessment in zip(comments, assessments):
                    self._rescore(comment, assessment, outcome)
            self.session.commit()
        return outcome

    def _rescore(self, comment: Comment, assessment, outcome: RescoreOutcome) -> None:
        """Store the new scores and decide again, unless a moderator claimed the comment or
        decided it since the batch was read (both conditions are in the UPDATEs)."""
        status, reasons = apply_standing(assessment, comment.author.standing_now(utcnow()))
        now = utcnow()
        unclaimed = or_(Comment.claimed_by_id.is_(None), Comment.claim_expires_at <= now)
        changed = self.session.execute(
            update(Comment).where(Comment.id == comment.id, unclaimed,
                                  Comment.status == CommentStatus.PENDING_REVIEW.value)
            .values(score=assessment.score, scores=assessment.scores, reasons=reasons,
                    top_label=likely_label(assessment.scores),
                    model_version=assessment.model_version)
            .execution_options(synchronize_session=False)).rowcount
        if not changed:
            outcome.skipped_claimed += 1
            return
        outcome.scored += 1
        action = {CommentStatus.APPROVED: Action.APPROVE,
                  CommentStatus.REJECTED: Action.REJECT}.get(status)
        if action is None:
            outcome.still_pending += 1
            return
        self.session.refresh(comment)
        try:
            transition(self.session, comment, action, actor=CLASSIFIER, respect_claims=True,
                       reason=f"rescored by model {assessment.model_version}")
        except Conflict:  # a moderator claimed or decided it meanwhile
            outcome.still_pending += 1
            return
        if action is Action.APPROVE:
            outcome.approved += 1
        else:
            outcome.rejected += 1


class JobExecutor:
    """Runs one claimed job to its end and records how it ended: succeeded with its result,
    cancelled, or failed with its error (never half a model: see :class:`ModelRegistry`)."""

    def __init__(self, jobs: JobService, pipeline: TrainingPipeline,
                 rescorer: PendingRescorer) -> None:
        self.jobs = jobs
        self.pipeline = pipeline
        self.rescorer = rescorer

    def execute(self, job_id: int, *, echo: Callable[[str], None] | None = None) -> TrainingJob:
        job = self.jobs.get(job_id)
        if job.status != JobStatus.RUNNING.value:
            raise Conflict(f"job {job_id} is {job.status}, not running")
        progress = JobProgress(self.jobs.session, job_id, echo=echo)
        alive = threading.Event()
        beating = threading.Thread(target=self._beat,
                                   args=(job_id, self.jobs.session.get_bind(), alive),
                                   daemon=True)
        beating.start()
        try:
            if job.kind == JobKind.TRAIN.value:
                outcome = self.pipeline.run(
                    progress, job_id=job_id, actor=job.requested_by,
                    promote=bool(job.params.get("promote", True)),
                    on_saved=progress.saved)
                self.jobs.finish(job_id, JobStatus.SUCCEEDED, stage=_ended(outcome),
                                 result=outcome.as_dict(), model_version=outcome.version)
                if (outcome.status == VersionStatus.ACTIVE.value
                        and job.params.get("rescore_pending")
                        and self.jobs.unfinished(JobKind.RESCORE) is None):
                    self.jobs.enqueue(JobKind.RESCORE, requested_by=job.requested_by)
            else:
                result = self.rescorer.run(progress)
                self.jobs.finish(job_id, JobStatus.SUCCEEDED, stage="done",
                                 result=result.as_dict(), model_version=result.version)
        except JobCancelled:
            self.jobs.session.rollback()
            self.jobs.finish(job_id, JobStatus.CANCELLED, stage="cancelled")
        except Exception as error:
            self.jobs.session.rollback()
            log.exception("job %s failed", job_id)
            self.jobs.finish(job_id, JobStatus.FAILED, stage="failed",
                             error=f"{type(error).__name__}: {error}")
        finally:
            alive.set()
            beating.join()
        return self.jobs.get(job_id)

    @staticmethod
    def _beat(job_id: int, bind, done: threading.Event) -> None:
        """Heartbeats while the job runs, even through a step that takes minutes, so that no
        worker takes it for dead (a session of its own: this is another thread)."""
        with Session(bind) as session:
            while not done.wait(HEARTBEAT_SECONDS):
                try:
                    JobService(session).heartbeat(job_id)
                except Exception:
                    log.exception("heartbeat of job %s failed", job_id)
                    session.rollback()


def _ended(outcome: TrainingOutcome) -> str:
    if outcome.status == VersionStatus.ACTIVE.value:
        return f"model {outcome.version} trained and promoted"
    if outcome.status == VersionStatus.HELD.value:
        return f"model {outcome.version} trained, held back by the gate"
    return f"model {outcome.version} trained; it passed the gate, promote it when ready"


def _without_curves(report: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in report.items() if key != "curves"}


def _calibration_groups(texts: list[str], seed: Corpus) -> list[str]:
    """Each training text's group for the calibration folds: its seed file's, or, for a real
    comment, a group of its own (see ``CommentClassifier.fit``)."""
    family = dict(zip(map(normalize, seed.texts), seed.row_groups()))
    return [family.get(normalize(text), f"row {i}") for i, text in enumerate(texts)]

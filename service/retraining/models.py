"""What retraining keeps: labeled examples, training jobs, model versions and their reports,
the promotion log, and shadow runs."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from classifier import LABELS
from service.comments.models import BigId
from service.extensions import UtcDateTime, db, utcnow


class TrainingExample(db.Model):
    """One labeled text. A label column is 1, 0, or NULL when the source does not say."""

    __tablename__ = "training_examples"
    __table_args__ = (Index("ix_training_examples_holdout_excluded", "holdout", "excluded"),
                      Index("ix_training_examples_site_id_client_token", "site_id",
                            "client_token"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    # sha256 of the normalised text: the same comment, however disguised, is one example.
    text_key: Mapped[str] = mapped_column(String(64), unique=True)
    # "seed", "<format>:<file>" for an import, "moderation:site<id>", "correction:<user>",
    # "perspective:site<id>" (a site's suggestscore).
    source: Mapped[str] = mapped_column(String(200), index=True)
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)  # arrival
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The site whose moderator decided it (the per-site threshold proposals use these).
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    corrected_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    # In the evaluation set: never trained on, so every model can be measured on it.
    holdout: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The first model version trained on it (None: no model has learned it yet).
    trained_in: Mapped[str | None] = mapped_column(String(40))
    # What the text answered, so a model can learn from context: the article's title (capped
    # as articles.title is) and the parent comment's text (capped as a comment's text is).
    # Erasing the parent's author blanks parent_text too (see service/privacy).
    article_title: Mapped[str | None] = mapped_column(String(500))
    parent_text: Mapped[str | None] = mapped_column(Text)
    # The site's own id for the text, from Perspective's suggestscore (its clientToken):
    # one example per token and site.
    client_token: Mapped[str | None] = mapped_column(String(200))

    toxicity: Mapped[int | None] = mapped_column(SmallInteger)
    severe_toxicity: Mapped[int | None] = mapped_column(SmallInteger)
    insult: Mapped[int | None] = mapped_column(SmallInteger)
    threat: Mapped[int | None] = mapped_column(SmallInteger)
    identity_attack: Mapped[int | None] = mapped_column(SmallInteger)
    obscene: Mapped[int | None] = mapped_column(SmallInteger)
    spam: Mapped[int | None] = mapped_column(SmallInteger)

    def labels(self) -> dict[str, int | None]:
        return {label: getattr(self, label) for label in LABELS}


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class JobKind(enum.StrEnum):
    TRAIN = "train"      # train a candidate, evaluate it, gate it, maybe promote it
    RESCORE = "rescore"  # score the pending queue again with the active model


class TrainingJob(db.Model):
    """Long work done by the worker, never by a web request; the UI shows its progress."""

    __tablename__ = "training_jobs"
    __table_args__ = (
        Index("ix_training_jobs_status_id", "status", "id"),
        # One unfinished job of a kind at a time, even when two admins (or replicas) ask at
        # once: a second training on the same examples would only race the first.
        Index("uq_training_jobs_one_unfinished_per_kind", "kind", unique=True,
              sqlite_where=text("status IN ('queued', 'running')"),
              postgresql_where=text("status IN ('queued', 'running')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.QUEUED.value)
    stage: Mapped[str] = mapped_column(String(200), default="waiting for the worker")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    requested_by: Mapped[str] = mapped_column(String(80))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # False once the job has saved its model: from then on it finishes whatever happens.
    cancellable: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    model_version: Mapped[str | None] = mapped_column(String(40))
    worker: Mapped[str | None] = mapped_column(String(80))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class VersionStatus(enum.StrEnum):
    CANDIDATE = "candidate"      # passed the gate, not (yet) promoted
    HELD = "held"                # worse than the active model: promotion needs an override
    ACTIVE = "active"
    RETIRED = "retired"          # was active, replaced by a promotion
    ROLLED_BACK = "rolled_back"  # was active, replaced by a rollback


class ModelRecord(db.Model):
    """A trained version's evaluation, beside the artifact in the model registry."""

    __tablename__ = "model_versions"

    version: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("training_jobs.id",
                                                          ondelete="SET NULL"))
    train_rows: Mapped[int] = mapped_column(Integer)
    eval_rows: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict] = mapped_column(JSON)
    # The model that was active when this one was evaluated, measured on the same rows.
    baseline_version: Mapped[str | None] = mapped_column(String(40))
    baseline_report: Mapped[dict | None] = mapped_column(JSON)
    gate: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ModelChart(db.Model):
    """A PNG chart of a version's report beside its baseline's (stored, so every replica
    serves it)."""

    __tablename__ = "model_charts"

    version: Mapped[str] = mapped_column(
        ForeignKey("model_versions.version", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    png: Mapped[bytes] = mapped_column(LargeBinary)


class ModelAction(enum.StrEnum):
    PROMOTE = "promote"
    OVERRIDE = "override"    # promoted although the gate held it back
    ROLLBACK = "rollback"
    SHADOW_START = "shadow_start"
    SHADOW_STOP = "shadow_stop"
    THRESHOLDS = "thresholds"


class ModelAuditEntry(db.Model):
    """Who changed which model serves, or how sites decide, and why. Only ever added to."""

    __tablename__ = "model_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(20))
    version: Mapped[str | None] = mapped_column(String(40))
    previous_version: Mapped[str | None] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ShadowRun(db.Model):
    """A candidate scoring live comments beside the active model, deciding nothing."""

    __tablename__ = "shadow_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(40))
    started_by: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Comments up to this id have been scored (the run starts at the newest comment).
    last_comment_id: Mapped[int] = mapped_column(BigInteger, default=0)


class ShadowScore(db.Model):
    """How the shadow model scored one comment, and what each model would have decided."""

    __tablename__ = "shadow_scores"

    run_id: Mapped[int] = mapped_column(ForeignKey("shadow_runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"),
                                            primary_key=True)
    active_score: Mapped[float] = mapped_column(Float)
    shadow_score: Mapped[float] = mapped_column(Float)
    active_status: Mapped[str] = mapped_column(String(20))
    shadow_status: Mapped[str] = mapped_column(String(20))

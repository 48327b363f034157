"""Shadow mode: a candidate scores live comments beside the active model, deciding nothing.

The worker scores each new comment with the shadow model shortly after it arrives (never in
the request, so the sites wait no longer), and the report says how often the two models would
have decided alike, and how each agrees with the moderators where they decided.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from classifier import CommentScore, LoadedModel, ModelNotFound, ModelRegistry, ModelRejected
from service.comments.models import AuditEntry, Comment, CommentStatus
from service.errors import Conflict, NotFound
from service.extensions import utcnow
from service.retraining.models import ModelAction, ShadowRun, ShadowScore
from service.retraining.versions import VersionService
from service.scoring.service import decide
from service.sites.services import SiteService

log = logging.getLogger(__name__)
S = CommentStatus
# What a moderator's final word says: published, or not.
HUMAN_PUBLISHED = {S.APPROVED.value: True, S.REJECTED.value: False, S.REMOVED.value: False}


class ShadowService:
    """Start, stop and report on shadow runs (one at a time)."""

    def __init__(self, session: Session, registry: ModelRegistry,
                 versions: VersionService) -> None:
        self.session = session
        self.registry = registry
        self.versions = versions

    def current(self) -> ShadowRun | None:
        return self.session.scalar(select(ShadowRun).where(ShadowRun.stopped_at.is_(None))
                                   .order_by(ShadowRun.id.desc()).limit(1))

    def latest(self, version: str | None = None) -> ShadowRun | None:
        """The newest run (of ``version``, if given)."""
        statement = select(ShadowRun).order_by(ShadowRun.id.desc()).limit(1)
        if version is not None:
            statement = statement.where(ShadowRun.version == version)
        return self.session.scalar(statement)

    def start(self, version: str, *, actor: str) -> ShadowRun:
        """Shadow ``version`` from the next comment on (stopping any run in progress)."""
        metadata, _ = self.versions.get(version)
        if metadata["active"]:
            raise Conflict(f"model {version} is the active model: shadow a candidate")
        try:
            self.registry.load(version)
        except (ModelRejected, ModelNotFound) as error:
            raise Conflict(f"model {version} cannot be loaded: {error}") from None
        if self.current() is not None:
            self.stop(actor=actor)
        newest = self.session.scalar(select(func.max(Comment.id))) or 0
        run = ShadowRun(version=version, started_by=actor, started_at=utcnow(),
                        last_comment_id=newest)
        self.session.add(run)
        self.versions.record(ModelAction.SHADOW_START, version, None, actor, None)
        return run

    def stop(self, *, actor: str) -> ShadowRun:
        run = self.current()
        if run is None:
            raise Conflict("no shadow run is in progress")
        run.stopped_at = utcnow()
        self.versions.record(ModelAction.SHADOW_STOP, run.version, None, actor, None)
        return run

    def report(self, run_id: int | None = None) -> dict[str, Any]:
        """Agreement of the shadow model with the active one, and of each with moderators."""
        run = self.session.get(ShadowRun, run_id) if run_id else self.latest()
        if run is None:
            raise NotFound("no shadow run" + (f" {run_id}" if run_id else " yet"))
        decided_by_person = exists().where(AuditEntry.comment_id == ShadowScore.comment_id,
                                           AuditEntry.user_id.isnot(None))
        rows = self.session.execute(
            select(ShadowScore.active_status, ShadowScore.shadow_status,
                   ShadowScore.active_score, ShadowScore.shadow_score,
                   Comment.status, decided_by_person)
            .join(Comment, Comment.id == ShadowScore.comment_id)
            .where(ShadowScore.run_id == run.id)).all()
        confusion: Counter = Counter((a, s) for a, s, *_ in rows)
        agree = sum(n for (a, s), n in confusion.items() if a == s)
        human = {"decided": 0, "active_agrees": 0, "shadow_agrees": 0}
        for active, shadow, _, _, status, by_person in rows:
            if by_person and status in HUMAN_PUBLISHED:
                published = HUMAN_PUBLISHED[status]
                human["decided"] += 1
                human["active_agrees"] += (active == S.APPROVED.value) == published
                human["shadow_agrees"] += (shadow == S.APPROVED.value) == published
        return {
            "run_id": run.id, "version": run.version, "started_at": run.started_at.isoformat(),
            "stopped_at": run.stopped_at.isoformat() if run.stopped_at else None,
            "started_by": run.started_by, "scored": len(rows),
            "agreement": round(agree / len(rows), 4) if rows else None,
            "mean_score_difference": round(sum(abs(r[2] - r[3]) for r in rows) / len(rows), 4)
            if rows else None,
            "decisions": [{"active": a, "shadow": s, "count": n}
                          for (a, s), n in sorted(confusion.items())],
            "moderators": human,
        }


class ShadowScorer:
    """The worker's part: score the comments that arrived since the last pass."""

    BATCH = 200

    def __init__(self, session: Session, registry: ModelRegistry, sites: SiteService) -> None:
        self.session = session
        self.registry = registry
        self.sites = sites
        self._loaded: LoadedModel | None = None

    def run(self, stop: threading.Event, *, poll_seconds: float = 1.0) -> None:
        while not stop.is_set():
            try:
                scored = self.run_once()
            except Exception:
                log.exception("shadow scoring failed")
                self.session.rollback()
                scored = 0
            if not scored:
                stop.wait(poll_seconds)

    def run_once(self) -> int:
        """Score one batch of new comments with the shadow model; returns how many."""
        current = (select(ShadowRun).where(ShadowRun.stopped_at.is_(None))
                   .order_by(ShadowRun.id.desc()).limit(1))
        if self.session.get_bind().dialect.name == "postgresql":
            current = current.with_for_update(skip_locked=True)  # one worker per batch
        run = self.session.scalar(current)
        if run is None:
            self.session.commit()
            return 0
        if self._loaded is None or self._loaded.version != run.version:
            try:
                self._loaded = self.registry.load(run.version)
            except (ModelRejected, ModelNotFound) as error:
                log.error("shadow model %s refused, run stopped: %s", run.version, error)
                run.stopped_at = utcnow()
                self.session.commit()
                return 0
        comments = list(self.session.scalars(
            select(Comment).where(Comment.id > run.last_comment_id).order_by(Comment.id)
            .limit(self.BATCH)))
        if not comments:
            self.session.commit()
            return 0
        results = self._loaded.model.predict_scores([c.text for c in comments])
        for comment, result in zip(comments, results):
            policy = self.sites.policy(comment.site)
            active, _ = decide(CommentScore(comment.score, comment.scores), policy)
            shadow, _ = decide(result, policy)
            self.session.add(ShadowScore(run_id=run.id, comment_id=comment.id,
                                         active_score=comment.score,
                                         shadow_score=result.score,
                                         active_status=active.value, shadow_status=shadow.value))
        run.last_comment_id = comments[-1].id
        self.session.commit()
        return len(comments)

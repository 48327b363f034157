"""Model versions: list them with their evaluations, promote, roll back, tune thresholds.

Which version serves is the registry's ACTIVE pointer, in the model directory every replica
shares; each web worker follows it within seconds (:class:`ScoringService`). This service
moves the pointer only to an artifact it has just verified, and logs who moved it and why.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from classifier import LoadedModel, ModelNotFound, ModelRegistry, ModelRejected, features_version_of
from classifier.evaluation import harmful_truth, propose_thresholds
from classifier.policy import Rule
from service.errors import Conflict, InvalidInput, NotFound
from service.extensions import utcnow
from service.retraining.models import (
    ModelAction,
    ModelAuditEntry,
    ModelChart,
    ModelRecord,
    ShadowRun,
    VersionStatus,
)
from service.retraining.services import ExampleStore
from service.sites.services import SiteService

CHARTS = ("precision_recall", "scores", "calibration")
# A site's own decisions decide its thresholds once the evaluation set holds this many.
MIN_SITE_ROWS = 50
MAX_REASON = 2000


class VersionService:
    def __init__(self, session: Session, registry: ModelRegistry, examples: ExampleStore,
                 sites: SiteService) -> None:
        self.session = session
        self.registry = registry
        self.examples = examples
        self.sites = sites

    def list(self) -> list[dict[str, Any]]:
        """Every version in the registry, newest first, with its status and headline figures."""
        records = {r.version: r for r in self.session.scalars(select(ModelRecord))}
        listed = []
        for metadata in self.registry.versions():
            record = records.get(metadata["version"])
            listed.append({
                "version": metadata["version"],
                "created_at": metadata["created_at"],
                "status": self.status_of(metadata["version"], record, metadata["active"]),
                "active": metadata["active"],
                "train_rows": metadata.get("training_data", {}).get("rows"),
                "eval_rows": record.eval_rows if record else None,
                "gate": record.gate if record else None,
                "metrics": metadata.get("metrics", {}),
                "sklearn_version": metadata.get("sklearn_version"),
                "features_version": features_version_of(metadata),
                "artifact_sha256": metadata.get("artifact_sha256"),
            })
        return listed

    @staticmethod
    def status_of(version: str, record: ModelRecord | None, active: bool) -> str:
        if active:
            return VersionStatus.ACTIVE.value
        if record is None:
            return "unevaluated"  # saved outside a training job: no report, no gate
        if record.status == VersionStatus.ACTIVE.value:  # the pointer moved without us
            return VersionStatus.RETIRED.value
        return record.status

    def get(self, version: str) -> tuple[dict[str, Any], ModelRecord | None]:
        """A version's registry metadata and its evaluation (None if it was never evaluated)."""
        try:
            metadata = self.registry.metadata(version)
        except ModelNotFound as error:
            raise NotFound(str(error)) from None
        metadata["active"] = self.registry.active_version() == version
        return metadata, self.session.get(ModelRecord, version)

    def chart(self, version: str, name: str) -> bytes:
        chart = self.session.get(ModelChart, (version, name))
        if chart is None:
            raise NotFound(f"no {name} chart for model {version}")
        return chart.png

    def history(self, limit: int = 50) -> list[ModelAuditEntry]:
        return list(self.session.scalars(select(ModelAuditEntry)
                                         .order_by(ModelAuditEntry.id.desc()).limit(limit)))

    # -- promotion and rollback -----------------------------------------------------------

    def promote(self, version: str, *, actor: str, reason: str | None = None) -> ModelAuditEntry:
        """Make ``version`` the one every replica scores with.

        A version the gate held back, one never evaluated, or one compared with a model that
        is no longer the active one needs a written ``reason``; the override is logged."""
        self._serialise()
        metadata, record = self.get(version)
        current = self.registry.active_version()
        if metadata["active"]:
            raise Conflict(f"model {version} is already active")
        reason = _clean_reason(reason)
        if record is None:
            held = "it was never evaluated on the evaluation set"
        elif not record.gate.get("passed"):
            held = "; ".join(record.gate.get("reasons", []))
        elif record.baseline_version not in (None, current):
            held = (f"it was compared with {record.baseline_version}, but {current} is active "
                    "now (train again to compare them)")
        else:
            held = None
        if held and not reason:
            raise Conflict(f"model {version} is held back: {held}. "
                           "Give a reason to promote it anyway.")
        self._set_status(current, VersionStatus.RETIRED)
        self._set_status(version, VersionStatus.ACTIVE)
        self._stop_shadowing(version)
        return self._switch_to(version, ModelAction.OVERRIDE if held else ModelAction.PROMOTE,
                               previous=current, actor=actor, reason=reason)

    def rollback(self, *, actor: str, reason: str | None = None) -> ModelAuditEntry:
        """Go back to the version that was active before the current one was promoted."""
        self._serialise()
        current = self.registry.active_version()
        if current is None:
            raise Conflict("no model is active")
        promoted = self.session.scalar(
            select(ModelAuditEntry)
            .where(ModelAuditEntry.version == current,
                   ModelAuditEntry.action.in_([ModelAction.PROMOTE.value,
                                               ModelAction.OVERRIDE.value]))
            .order_by(ModelAuditEntry.id.desc()).limit(1))
        if promoted is None or promoted.previous_version is None:
            raise Conflict(f"nothing to roll back to: model {current} was not promoted over "
                           "another version")
        target = promoted.previous_version
        self._set_status(current, VersionStatus.ROLLED_BACK)
        self._set_status(target, VersionStatus.ACTIVE)
        return self._switch_to(target, ModelAction.ROLLBACK, previous=current, actor=actor,
                               reason=_clean_reason(reason))

    def _serialise(self) -> None:
        """Hold the database's write lock (PostgreSQL: an advisory lock) until the commit,
        so two admins promoting at once take turns, each seeing the other's result."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(7267601)"))
        else:
            self.session.execute(text("UPDATE model_audit SET id = id WHERE 0"))

    def _switch_to(self, version: str, action: ModelAction, *, previous: str | None,
                   actor: str, reason: str | None) -> ModelAuditEntry:
        """Verify ``version``'s artifact, log the switch, point ACTIVE at it, commit.

        Nothing serves the version unless its log entry is written with it: a failed commit
        points ACTIVE back."""
        try:
            self.registry.load(version)
        except (ModelRejected, ModelNotFound) as error:
            self.session.rollback()
            raise Conflict(f"model {version} cannot be served: {error}") from None
        entry = ModelAuditEntry(action=action.value, version=version, previous_version=previous,
                                actor=actor, reason=reason)
        self.session.add(entry)
        self.session.flush()
        self.registry.activate(version)
        try:
            self.session.commit()
        except Exception:
            self.session.rollback()
            if previous is not None:
                self.registry.activate(previous)
            raise
        return entry

    def _stop_shadowing(self, version: str) -> None:
        """A promoted version has nothing left to shadow."""
        self.session.execute(update(ShadowRun).where(ShadowRun.version == version,
                                                     ShadowRun.stopped_at.is_(None))
                             .values(stopped_at=utcnow()))

    def _set_status(self, version: str | None, status: VersionStatus) -> None:
        record = self.session.get(ModelRecord, version) if version else None
        if record is not None:
            record.status = status.value

    def record(self, action: ModelAction, version: str | None, previous: str | None, actor: str,
             reason: str | None, details: dict | None = None) -> ModelAuditEntry:
        """Add an entry to the model audit log (and commit what came with it)."""
        entry = ModelAuditEntry(action=action.value, version=version, previous_version=previous,
                                actor=actor, reason=reason, details=details)
        self.session.add(entry)
        self.session.commit()
        return entry

    # -- thresholds -----------------------------------------------------------------------

    def propose_thresholds(self, model: LoadedModel, *, min_rejected_precision: float,
                           max_approved_harmful: float) -> dict[str, Any]:
        """``approve_below`` and ``reject_at`` of the combined score (the policy's ``any``
        rule) for each site that meet the targets on the evaluation set scored by ``model``:
        from the site's own moderators' decisions when the set holds enough of them, from
        the whole set otherwise."""
        for name, value in (("min_rejected_precision", min_rejected_precision),
                            ("max_approved_harmful", max_approved_harmful)):
            if not 0.0 <= value <= 1.0:
                raise InvalidInput({name: ["must be between 0 and 1"]})
        site_ids, _, corpus = self.examples.evaluation_set()
        truth = harmful_truth(corpus.y)
        known = truth >= 0
        if known.sum() == 0 or len(set(truth[known].tolist())) < 2:
            raise Conflict("the evaluation set has no harmful and fine examples to tune on yet: "
                           "train a model first")
        scores = (model.model.predict_proba(corpus.texts)[:, -1] if corpus.texts
                  else np.zeros(0))
        owners = np.array([-1 if s is None else s for s in site_ids])
        targets = {"min_rejected_precision": min_rejected_precision,
                   "max_approved_harmful": max_approved_harmful}
        overall = propose_thresholds(scores[known], truth[known] == 1, **targets)
        proposals = []
        for site in self.sites.list():
            mine = known & (owners == site.id)
            basis, proposal = "all", overall
            if mine.sum() >= MIN_SITE_ROWS and len(set(truth[mine].tolist())) == 2:
                basis, proposal = "site", propose_thresholds(scores[mine], truth[mine] == 1,
                                                             **targets)
            current = self.sites.policy(site)
            proposals.append({"site": site.name, "site_id": site.id, "basis": basis,
                              "site_rows": int(mine.sum()),
                              "current": {"approve_below": current.approve_below,
                                          "reject_at": current.reject_at},
                              "proposal": proposal.as_dict()})
        return {"version": model.version, "targets": targets, "overall": overall.as_dict(),
                "sites": proposals}

    def apply_thresholds(self, site_name: str, *, approve_below: float, reject_at: float,
                         actor: str) -> None:
        site = self.sites.get(site_name)
        before = self.sites.policy(site)
        # The proposals tune the combined score, so they set the policy's "any" rule.
        try:
            rule = Rule(approve_below, reject_at)
        except ValueError as error:
            raise InvalidInput({"approve_below": [str(error)]}) from None
        self.sites.update(site_name, rules={"any": rule})
        self.record(ModelAction.THRESHOLDS, self.registry.active_version(), None, actor, None,
                  {"site": site_name,
                   "before": {"approve_below": before.approve_below,
                              "reject_at": before.reject_at},
                   "after": {"approve_below": approve_below, "reject_at": reject_at}})


def _clean_reason(reason: str | None) -> str | None:
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise InvalidInput({"reason": [f"at most {MAX_REASON} characters"]})
    return reason or None

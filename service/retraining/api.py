"""The admin JSON API: train, compare, promote and roll back models; shadow a candidate;
browse and correct the training examples; tune each site's thresholds.

Admins only: an admin's token (``Authorization: Bearer mt_...``) or an admin's web session
(with ``X-CSRFToken`` on writes). Training never runs in the request: it answers 202 with a
job to follow, which the worker runs.
"""

from __future__ import annotations

from flask import g, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from classifier.policy import Rule
from service.api import (
    USER_SECURITY,
    SafeJsonParser,
    authenticate_user,
    refuse_impossible_path_values,
)
from service.container import services
from service.retraining.models import JobKind
from service.retraining.schemas import (
    ExampleArgs,
    ExampleOut,
    ExamplePageOut,
    ExamplePatchIn,
    JobListOut,
    JobOut,
    ModelActionOut,
    PolicyIn,
    PolicyOut,
    PromoteIn,
    RollbackIn,
    ShadowIn,
    TargetsIn,
    ThresholdsIn,
    TrainIn,
    VersionListOut,
    VersionReportOut,
)
from service.retraining.services import ExampleQuery

MAX_JOB_ID = 2**31 - 1  # training_jobs.id is a 32-bit column on PostgreSQL


class AdminBlueprint(Blueprint):
    ARGUMENTS_PARSER = SafeJsonParser()


blp = AdminBlueprint("admin-api", __name__, url_prefix="/v1/admin",
                     description="Retrain the classifier, compare versions, promote and roll "
                                 "back; shadow a candidate; correct training examples; tune "
                                 "thresholds (admins only).")


@blp.before_request
def _admin_only() -> None:
    user = authenticate_user()
    if not user.is_admin:
        abort(403, message="Only an admin may do this.")
    g.user = user
    refuse_impossible_path_values()
    job_id = (request.view_args or {}).get("job_id")
    if job_id is not None and job_id > MAX_JOB_ID:
        abort(404, message=f"no job {job_id}")


@blp.route("/models")
class Models(MethodView):
    @blp.doc(security=USER_SECURITY)
    @blp.response(200, VersionListOut)
    def get(self):
        """Every model version, newest first, with its status and evaluation figures."""
        return {"items": services().versions.list()}

    @blp.doc(security=USER_SECURITY)
    @blp.arguments(TrainIn)
    @blp.response(202, JobOut)
    @blp.alt_response(409, description="A training job is already queued or running.")
    def post(self, options):
        """Start training a candidate on the example store; follow the job it answers."""
        job = services().jobs.enqueue(JobKind.TRAIN, requested_by=g.user.username,
                                       params=options)
        return job, 202, {"Location": url_for(".Job", job_id=job.id)}


@blp.route("/models/rollback")
class Rollback(MethodView):
    @blp.doc(security=USER_SECURITY)
    @blp.arguments(RollbackIn)
    @blp.response(200, ModelActionOut)
    def post(self, body):
        """Serve the version that was active before the current one was promoted."""
        return services().versions.rollback(actor=g.user.username, reason=body.get("reason"))


@blp.route("/models/<version>")
class Model(MethodView):
    @blp.doc(security=USER_SECURITY)
    @blp.response(200, VersionReportOut)
    def get(self, version: str):
        """A version's evaluation beside the model that was active when it was trained."""
        metadata, record = services().versions.get(version)
        return {"version": version, "active": metadata["active"],
                "status": services().versions.status_of(version, record, metadata["active"]),
                "metadata": metadata, "report": record.report if record else None,
                "baseline_version": record.baseline_version if record else None,
                "baseline_report": record.baseline_report if record else None,
                "gate": record.gate if record else None}


@blp.route("/models/<version>/promote")
class Promote(MethodView):
    @blp.doc(security=USER_SECURITY)
    @blp.arguments(PromoteIn)
    @blp.response(200, ModelActionOut)
    @blp.alt_response(409, description="The gate held it back and no reason was given, or it "
                                       "is active already, or its artifact fails verification.")
    def post(self, body, version: str):
        """Serve this version everywhere within seconds, without a restart."""
        entry = services().versions.promote(version, actor=g.user.username,
                                             reason=body.get("reason"))
        rescore = None
        if body["rescore_pending"]:
            rescore = services().jobs.enqueue(JobKind.RESCORE, requested_by=g.user.username)
        return {"action": entry.action, "version": entry.version,
                "previous_version": entry.previous_version, "actor": entry.actor,
                "reason": entry.reason, "created_at": entry.created_at,
                "rescore_job_id": rescore.id if rescore else None}


@blp.route("/jobs")
class Jobs(MethodView):
    @blp.doc(security=USER_SECURITY)
    @blp.response(200, JobListOut)
    def get(self):
        """The latest jobs, newest first."""
        return {"items": services().jobs.recent()}


@blp.route("/jobs/<int:job_id>")
class Job(MethodView):
    @blp.doc(security=USER_SECURITY)
    @blp.response(200, JobOut)
    def get(self, job_id: int):
        """A job's status, stage and progress; its result or error once it has ended."""
        return services().jobs.get(job_id)


@blp.route("/jobs/<int:job_id>/cancel")
class CancelJob(MethodView):
    @blp.doc(security=USER_SECURITY)
    @blp.response(200, JobOut)
    @blp.alt_response(409, description="The job has already ended.")
    def post(self, job_id: int):
        """Cancel a queued job, or stop a running one at its next step (nothing is saved)."""
        return services().jobs.cancel(job_id)


@blp.route("/shadow")
class Shadow(MethodView):
    @blp.doc(security=USER_SECURITY)
    @blp.response(200)
    def get(self):
        """The latest shadow run's agreement report."""
        return services().shadow.report()

    @blp.doc(security=USER_SECURITY)
    @blp.arguments(ShadowIn)
    @blp.response(201)
    def post(self, body):
        """Score new comments with this version beside the active one (deciding nothing)."""
        run = services().shadow.start(body["version"], actor=g.user.username)
        return services().shadow.report(run.id), 201

    @blp.doc(security=USER_SECURITY)
    @blp.response(200)
    def delete(self):
        """Stop the shadow run in progress."""
        run = services().shadow.stop(actor=g.user.username)
        return services().shadow.report(run.id)


@blp.route("/examples")
class Examples(MethodView):
    @blp.doc(security=USER_SECURITY)
    @blp.arguments(ExampleArgs, location="query")
    @blp.response(200, ExamplePageOut)
    def get(self, args):
        """Training examples, newest first, filtered by source, label, text and set."""
        page = services().examples.browse(ExampleQuery(
            source=args.get("source"), label=args.get("label"), search=args.get("q"),
            subset=args["subset"], before_id=args.get("before_id"), limit=args["limit"]))
        return {"items": page.examples, "next_before_id": page.next_before_id}


@blp.route("/examples/<int:example_id>")
class Example(MethodView):
    @blp.doc(security=USER_SECURITY)
    @blp.arguments(ExamplePatchIn)
    @blp.response(200, ExampleOut)
    def patch(self, change, example_id: int):
        """Correct an example's labels (all of them), or exclude it / take it back."""
        examples = services().examples
        example = examples.get(example_id)
        if "labels" in change:
            example = examples.correct(example_id, change["labels"], user_id=g.user.id,
                                       username=g.user.username)
        if "excluded" in change:
            example = examples.set_excluded(example_id, change["excluded"])
        return example


@blp.route("/thresholds/proposals")
class ThresholdProposals(MethodView):
    @blp.doc(security=USER_SECURITY)
    @blp.arguments(TargetsIn)
    @blp.response(200)
    def post(self, targets):
        """``approve_below`` and ``reject_at`` per site that meet the targets on the
        evaluation set, with the review rate each would give."""
        return services().versions.propose_thresholds(services().scoring.current(),
                                                       **targets)


@blp.route("/sites/<name>/thresholds")
class SiteThresholds(MethodView):
    @blp.doc(security=USER_SECURITY)
    @blp.arguments(ThresholdsIn)
    @blp.response(200, ThresholdsIn)
    def put(self, thresholds, name: str):
        """Set a site's thresholds (audited in the model log)."""
        services().versions.apply_thresholds(name, actor=g.user.username, **thresholds)
        policy = services().sites.policy(services().sites.get(name))
        return {"approve_below": policy.approve_below, "reject_at": policy.reject_at}


@blp.route("/sites/<name>/policy")
class SitePolicy(MethodView):
    @blp.doc(security=USER_SECURITY)
    @blp.response(200, PolicyOut)
    def get(self, name: str):
        """The site's decision policy: per label (and `any`, the combined score), the
        probability from which a comment is held and from which it is rejected."""
        sites = services().sites
        return sites.policy(sites.get(name)).as_json()

    @blp.doc(security=USER_SECURITY)
    @blp.arguments(PolicyIn)
    @blp.response(200, PolicyOut)
    def put(self, change, name: str):
        """Choose a preset (`strict`, `standard`, `permissive`) and/or replace single rules."""
        sites = services().sites
        rules = {key: None if rule is None else Rule(rule["hold_at"], rule["reject_at"])
                 for key, rule in (change.get("rules") or {}).items()}
        site = sites.update(name, policy=change.get("preset"), rules=rules)
        return sites.policy(site).as_json()

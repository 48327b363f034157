"""The admins' web UI for retraining: model versions, training jobs, a version's report,
the example store, and per-site thresholds.

Server-rendered pages whose every action is a plain form; a page that watches a job reloads
itself with ``<meta http-equiv="refresh">``, so none of it needs JavaScript. Training runs in
the worker: a form here only queues a job. Texts are only ever rendered through Jinja's
autoescaping.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Mapping

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from classifier import LABELS
from classifier.policy import POLICY_KEYS, PRESETS, Rule
from service.api import (
    clean_field,
    domain_error_page,
    load_form,
    refuse_impossible_path_values,
    status_of,
)
from service.container import services
from service.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, Unavailable
from service.extensions import csrf, utcnow
from service.retraining.api import MAX_JOB_ID
from service.retraining.jobs import JobService
from service.retraining.models import FINISHED, JobKind, JobStatus
from service.retraining.pipeline import REAL_FOR_GAIN
from service.retraining.schemas import ExampleArgs
from service.retraining.services import SUBSETS, ExampleQuery, ExampleStore
from service.retraining.shadow import ShadowService
from service.retraining.versions import CHARTS, MAX_REASON, VersionService

bp = Blueprint("admin", __name__, url_prefix="/moderation/admin")

# The targets a threshold proposal starts from: a wrong automatic rejection costs a reader
# their say, so rejections must be nearly always right; approvals may let a little through.
DEFAULT_TARGETS = {"min_rejected_precision": 0.97, "max_approved_harmful": 0.01}
TARGET_NAMES = {"min_rejected_precision": "Minimum precision of auto-rejected comments",
                "max_approved_harmful": "Maximum harmful share of auto-approved comments"}
CHART_TITLES = {"precision_recall": "Precision and recall", "scores": "Score distributions",
                "calibration": "Calibration"}
EXAMPLES_PER_PAGE = 50
MAX_SEARCH = 200


def versions() -> VersionService:
    return services().versions


def jobs() -> JobService:
    return services().jobs


def shadow() -> ShadowService:
    return services().shadow


def examples() -> ExampleStore:
    return services().examples


@bp.before_request
@login_required
def _admins_only() -> None:
    """Every page is for admins; every form post needs a valid CSRF token."""
    if not current_user.is_admin:
        raise Forbidden("Only admins manage models and training data.")
    if request.method == "POST":
        csrf.protect()
    refuse_impossible_path_values()  # an id over 64 bits: 404, not a driver error
    job_id = (request.view_args or {}).get("job_id")
    if job_id is not None and job_id > MAX_JOB_ID:
        raise NotFound(f"no job {job_id}")
    g.counts = services().review.counts(current_user)


bp.register_error_handler(DomainError, domain_error_page)


# -- model versions and jobs ------------------------------------------------------------------

@bp.get("/models")
def models() -> str:
    return _models_page()


def _models_page(form: Mapping[str, Any] | None = None, status: int = 200) -> Any:
    """The versions, jobs and history; ``form`` holds what the admin typed when a post failed."""
    recent = jobs().recent(10)
    return render_template(
        "admin/models.html", versions=versions().list(), jobs=recent,
        history=versions().history(50), form=form or {},
        real=services().examples.real_counts(),
        real_for_gain=REAL_FOR_GAIN,
        watching=any(job.status not in FINISHED for job in recent)), status


@bp.post("/models/train")
def train() -> Any:
    params = {"promote": request.form.get("promote") == "1",
              "rescore_pending": request.form.get("rescore_pending") == "1"}
    try:
        job = jobs().enqueue(JobKind.TRAIN, requested_by=current_user.username, params=params)
    except Conflict as error:
        flash(f"{error}: wait for it to end, or cancel it.", "error")
        return _models_page({"train": params}, 409)
    flash(f"Training job {job.id} is queued; the worker will start it shortly.", "info")
    return redirect(url_for(".models"))


@bp.post("/models/rollback")
def rollback() -> Any:
    typed = _typed("reason")
    try:
        entry = versions().rollback(actor=current_user.username,
                                    reason=_form_text("reason", MAX_REASON))
    except (Conflict, InvalidInput) as error:
        flash(str(error), "error")
        return _models_page({"rollback_reason": typed}, status_of(error))
    flash(f"Rolled back: model {entry.version} is active again, instead of "
          f"{entry.previous_version}.", "info")
    return redirect(url_for(".models"))


@bp.get("/jobs/<int:job_id>")
def job(job_id: int) -> str:
    found = jobs().get(job_id)
    return render_template("admin/job.html", job=found, timings=_timings(found),
                           running=found.status not in FINISHED)


@bp.post("/jobs/<int:job_id>/cancel")
def cancel_job(job_id: int) -> Response:
    try:
        cancelled = jobs().cancel(job_id)
    except Conflict as error:
        flash(str(error), "error")
    else:
        flash(f"Job {job_id} cancelled." if cancelled.status == JobStatus.CANCELLED.value else
              f"Job {job_id} will stop at its next step.", "info")
    return redirect(url_for(".job", job_id=job_id))


def _timings(found) -> list[tuple[str, str]]:
    now = utcnow()
    rows = [("Queued", _when(found.created_at))]
    if found.started_at:
        rows.append(("Started", f"{_when(found.started_at)} "
                                f"(after {_duration(found.created_at, found.started_at)})"))
        ended = found.finished_at or now
        rows.append(("Finished" if found.finished_at else "Running for",
                     f"{_when(found.finished_at)} (took {_duration(found.started_at, ended)})"
                     if found.finished_at else _duration(found.started_at, ended)))
    elif found.finished_at:
        rows.append(("Ended", _when(found.finished_at)))
    return rows


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else ""


def _duration(start: datetime, end: datetime) -> str:
    seconds = max(int((end - start).total_seconds()), 0)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


# -- one version: its report, promotion and shadow runs ---------------------------------------

@bp.get("/models/<version>")
def model(version: str) -> str:
    return _model_page(version)


def _model_page(version: str, form: Mapping[str, Any] | None = None, status: int = 200) -> Any:
    metadata, record = versions().get(version)
    run = shadow().latest(version)
    shadowing = shadow().current()
    shadow_report = shadow().report(run.id) if run else None
    return render_template(
        "admin/model.html", version=version, metadata=metadata, record=record,
        status=versions().status_of(version, record, metadata["active"]),
        labels=[*LABELS, "any"], charts=[(name, CHART_TITLES[name]) for name in CHARTS],
        shadowing=shadowing, shadow_report=shadow_report,
        confusion=_confusion(shadow_report), form=form or {}, max_reason=MAX_REASON), status


def _confusion(report: dict | None) -> dict | None:
    """The shadow run's decisions as a table: the active model's by the shadow model's."""
    if not report:
        return None
    counts = {(row["active"], row["shadow"]): row["count"] for row in report["decisions"]}
    statuses = sorted({status for pair in counts for status in pair})
    return {"statuses": statuses, "counts": counts}


@bp.get("/models/<version>/charts/<name>.png")
def chart(version: str, name: str) -> Response:
    if name not in CHARTS:
        raise NotFound(f"no chart named {name}")
    png = versions().chart(version, name)
    # A version's charts never change: a browser may keep them while the admin looks around.
    return Response(png, mimetype="image/png",
                    headers={"Cache-Control": "private, max-age=3600"})


@bp.post("/models/<version>/promote")
def promote(version: str) -> Any:
    typed = _typed("reason")
    rescore = request.form.get("rescore_pending") == "1"
    try:
        entry = versions().promote(version, actor=current_user.username,
                                   reason=_form_text("reason", MAX_REASON))
    except (Conflict, InvalidInput) as error:
        flash(str(error), "error")
        return _model_page(version, {"reason": typed, "rescore_pending": rescore},
                           status_of(error))
    flash(f"Model {version} is active" + (" (promoted over the gate)."
                                          if entry.action == "override" else "."), "info")
    if rescore:
        try:
            queued = jobs().enqueue(JobKind.RESCORE, requested_by=current_user.username)
        except Conflict as error:
            flash(f"The pending queue is not rescored again: {error}.", "error")
        else:
            flash(f"Rescoring job {queued.id} will score the pending queue with it.", "info")
    return redirect(url_for(".models"))


@bp.post("/models/<version>/shadow")
def shadow_run(version: str) -> Response:
    action = _form_text("action", 20)
    try:
        if action == "start":
            shadow().start(version, actor=current_user.username)
            flash(f"Model {version} now scores new comments in the shadow of the active one.",
                  "info")
        elif action == "stop":
            run = shadow().stop(actor=current_user.username)
            flash(f"Shadow run of model {run.version} stopped.", "info")
        else:
            raise InvalidInput({"action": ["must be start or stop"]})
    except (Conflict, InvalidInput) as error:
        flash(str(error), "error")
    return redirect(url_for(".model", version=version))


# -- the example store ------------------------------------------------------------------------

@bp.get("/examples")
def browse_examples() -> Any:
    store = examples()
    sources = store.sources()
    try:
        query = _example_query(request.args, sources)
    except InvalidInput as error:
        flash(str(error), "error")
        return _examples_page(None, sources, request.args, 422)
    return _examples_page(query, sources, request.args)


def _examples_page(query: ExampleQuery | None, sources: list[str],
                   typed: Mapping[str, str], status: int = 200) -> Any:
    page = examples().browse(query) if query else None
    filters = ({key: value for key, value in (("source", query.source), ("label", query.label),
                                              ("q", query.search), ("subset", query.subset))
                if value and value != "all"} if query else {})
    return render_template(
        "admin/examples.html", page=page, sources=sources, labels=LABELS, subsets=SUBSETS,
        typed=typed, filters=filters, before_id=query.before_id if query else None), status


def _example_query(values: Mapping[str, str], sources: list[str]) -> ExampleQuery:
    """The examples page's filters, read by the API's ExampleArgs (a page of its own size)."""
    args = load_form(ExampleArgs(), values)
    if args.get("source") is not None and args["source"] not in sources:
        raise InvalidInput({"source": ["no example comes from there"]})
    return ExampleQuery(source=args.get("source"), label=args.get("label"), search=args.get("q"),
                        subset=args["subset"], before_id=args.get("before_id"),
                        limit=EXAMPLES_PER_PAGE)


@bp.post("/examples/<int:example_id>/labels")
def correct_example(example_id: int) -> Response:
    chosen = request.form.getlist("labels")
    unknown = sorted(set(chosen) - set(LABELS))
    if unknown:
        flash(f"Example {example_id}: no such label {', '.join(unknown)[:200]}.", "error")
    else:
        examples().correct(example_id, {label: int(label in chosen) for label in LABELS},
                           user_id=current_user.id, username=current_user.username)
        flash(f"Example {example_id} now has the labels: "
              f"{', '.join(label for label in LABELS if label in chosen) or 'none'}.", "info")
    return _back_to_examples(example_id)


@bp.post("/examples/<int:example_id>/excluded")
def exclude_example(example_id: int) -> Response:
    excluded = request.form.get("excluded") == "1"
    examples().set_excluded(example_id, excluded)
    flash(f"Example {example_id} is " + ("left out of training and evaluation."
                                         if excluded else "used again."), "info")
    return _back_to_examples(example_id)


def _back_to_examples(example_id: int) -> Response:
    """The page of examples the admin was on, at the row they changed."""
    filters = {name: value for name in ("source", "label", "q", "subset", "before_id")
               if (value := clean_field(name, request.form.get(name), 200))}
    return redirect(url_for(".browse_examples", **filters, _anchor=f"example-{example_id}"))


# -- thresholds -------------------------------------------------------------------------------

@bp.get("/thresholds")
def thresholds() -> Any:
    typed = {name: request.args.get(name, str(default))
             for name, default in DEFAULT_TARGETS.items()}
    try:
        targets = {name: _fraction(name, value) for name, value in typed.items()}
    except InvalidInput as error:
        flash(str(error), "error")
        return _thresholds_page(typed, None, 422)
    return _thresholds_page(typed, targets)


def _thresholds_page(typed: Mapping[str, str], targets: dict[str, float] | None,
                     status: int = 200, applying: Mapping[str, str] | None = None) -> Any:
    proposals = None
    if targets is not None:
        try:
            # The model active now, even if it was promoted a second ago.
            proposals = versions().propose_thresholds(
                services().scoring.current(fresh=True), **targets)
        except (Conflict, Unavailable) as error:
            flash(str(error), "error")
            status = max(status, status_of(error))
    return render_template("admin/thresholds.html", typed=typed, proposals=proposals,
                           target_names=TARGET_NAMES, applying=applying or {}), status


@bp.post("/thresholds")
def apply_thresholds() -> Any:
    typed = {name: _typed(name) or str(default) for name, default in DEFAULT_TARGETS.items()}
    applying = {name: _typed(name) for name in ("site", "approve_below", "reject_at")}
    try:
        site = _form_text("site", 100) or ""
        approve_below = _fraction("approve_below", request.form.get("approve_below"))
        reject_at = _fraction("reject_at", request.form.get("reject_at"))
        versions().apply_thresholds(site, approve_below=approve_below, reject_at=reject_at,
                                    actor=current_user.username)
    except (InvalidInput, NotFound) as error:
        flash(str(error), "error")
        targets = None
        try:
            targets = {name: _fraction(name, value) for name, value in typed.items()}
        except InvalidInput:
            pass
        return _thresholds_page(typed, targets, status_of(error), applying)
    flash(f"{site} now approves below {approve_below:g} and rejects from {reject_at:g}.",
          "info")
    return redirect(url_for(".thresholds", **typed))


# -- decision policy --------------------------------------------------------------------------

@bp.get("/sites/<name>/policy")
def site_policy(name: str) -> Any:
    return _policy_page(name, {})


@bp.post("/sites/<name>/policy")
def apply_policy(name: str) -> Any:
    """A changed preset starts the site over from it; otherwise the typed rules replace the
    preset's where they differ."""
    sites = services().sites
    typed = {f"{key}.{end}": _typed(f"{key}.{end}") for key in POLICY_KEYS
             for end in ("hold_at", "reject_at")}
    try:
        site = sites.get(name)
        chosen = _form_text("preset", 40)
        if chosen != sites.policy(site).preset:
            sites.update(name, policy=chosen)
            flash(f"{name} now uses the {chosen} preset.", "info")
        else:
            rules = {}
            for key in POLICY_KEYS:
                try:
                    rules[key] = Rule(*(_optional_fraction(f"{key}.{end}")
                                        for end in ("hold_at", "reject_at")))
                except ValueError as error:
                    raise InvalidInput({f"{key}.hold_at": [str(error)]}) from None
            sites.update(name, rules=rules)
            flash(f"{name}'s rules are saved.", "info")
    except (InvalidInput, NotFound) as error:
        flash(str(error), "error")
        return _policy_page(name, typed, status_of(error))
    return redirect(url_for(".site_policy", name=name))


def _policy_page(name: str, typed: Mapping[str, str], status: int = 200) -> Any:
    sites = services().sites
    site = sites.get(name)
    return render_template("admin/policy.html", site=site, policy=sites.policy(site),
                           presets=PRESETS, keys=POLICY_KEYS, typed=typed), status


def _optional_fraction(name: str) -> float | None:
    """A threshold field: blank means never."""
    value = request.form.get(name)
    return None if not (value or "").strip() else _fraction(name, value)


# -- form input -------------------------------------------------------------------------------

def _fraction(name: str, value: str | None) -> float:
    """A number between 0 and 1 as typed in a form; refused (422) otherwise."""
    text = clean_field(name, value, 40)
    try:
        number = float(text) if text is not None else math.nan
    except ValueError:
        number = math.nan
    if not 0.0 <= number <= 1.0:  # NaN fails this too
        raise InvalidInput({name: ["a number between 0 and 1"]})
    return number


def _form_text(name: str, max_length: int) -> str | None:
    return clean_field(name, request.form.get(name), max_length)


def _typed(name: str) -> str:
    """What the admin typed in a field, to show it again when the post is refused (a NUL
    cannot be shown, and is the one thing dropped)."""
    return (request.form.get(name) or "").replace("\x00", "")


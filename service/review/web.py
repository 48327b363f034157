"""The moderators' web UI: queues, one item at a time, bulk decisions, authors, dashboard.

Server-rendered pages whose every action is a plain form, so all of it works without
JavaScript; ``static/moderation.js`` only adds keys. Comment text is only ever rendered
through Jinja's autoescaping.
"""

from __future__ import annotations

from flask import (Blueprint, abort, current_app, flash, g, redirect, render_template, request,
                   url_for)
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from classifier import LABELS
from service.errors import Conflict, DomainError, InvalidInput, NotFound
from service.extensions import csrf
from service.review.services import DECISIONS, ORDERS, QUEUES, QueueQuery, ReviewService
from service.sites.services import DEFAULT_REJECT_REASONS

bp = Blueprint("moderation", __name__, url_prefix="/moderation")
PAST_TENSE = {"approve": "Approved", "reject": "Rejected", "remove": "Removed",
              "restore": "Restored"}


def review() -> ReviewService:
    return current_app.extensions["moderation.review"]


@bp.before_request
@login_required
def _signed_in() -> None:
    """Every page needs a signed-in user; every form post a valid CSRF token."""
    if request.method == "POST":
        csrf.protect()
    g.counts = review().counts(current_user)


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError) -> tuple[str, int]:
    code = {NotFound: 404, Conflict: 409, InvalidInput: 422}.get(type(error), 400)
    return render_template("error.html", message=str(error), code=code), code


@bp.get("/")
def queue() -> str:
    query = _query_from(request.args, cursor=request.args.get("cursor"))
    page = review().queue(current_user, query)
    return render_template(
        "queue.html", query=query, page=page, queues=QUEUES, orders=ORDERS, labels=LABELS,
        sites=review().visible_sites(current_user), reasons=DEFAULT_REJECT_REASONS,
        filters=query.filters())


@bp.post("/bulk")
def bulk() -> Response:
    query = _query_from(request.form)
    ids = [int(value) for value in request.form.getlist("ids") if value.isdigit()]
    if not ids:
        flash("Select at least one comment.", "error")
        return redirect(url_for(".queue", **query.filters()))
    result = review().decide_many(current_user, ids, request.form.get("action", ""),
                                  reason=request.form.get("reason") or None,
                                  note=request.form.get("note") or None)
    if result.decided:
        done = PAST_TENSE.get(request.form["action"], "Decided")
        flash(f"{done} {len(result.decided)} comment(s).", "info")
    for comment_id, message in result.failed.items():
        flash(f"Comment {comment_id}: {message}", "error")
    return redirect(url_for(".queue", **query.filters()))


@bp.get("/comments/<int:comment_id>")
def item(comment_id: int) -> str:
    query = _query_from(request.args)
    detail = review().detail(current_user, comment_id)
    previous_id, next_id = review().neighbours(current_user, query, detail.comment)
    return render_template("item.html", detail=detail, comment=detail.comment, query=query,
                           filters=query.filters(), previous_id=previous_id, next_id=next_id,
                           decisions=[d.value for d in DECISIONS])


@bp.post("/comments/<int:comment_id>/decision")
def decide(comment_id: int) -> Response:
    query = _query_from(request.form)
    service = review()
    comment = service.get(current_user, comment_id)
    _, next_id = service.neighbours(current_user, query, comment)
    action = request.form.get("action", "")
    try:
        service.decide(current_user, comment_id, action,
                       reason=request.form.get("reason") or None,
                       note=(request.form.get("note") or "").strip() or None)
    except (Conflict, InvalidInput) as error:
        flash(str(error), "error")
        return redirect(url_for(".item", comment_id=comment_id, **query.filters()))
    flash(f"{PAST_TENSE[action]} comment {comment_id}.", "info")
    if next_id is not None:
        return redirect(url_for(".item", comment_id=next_id, **query.filters()))
    return redirect(url_for(".queue", **query.filters()))


@bp.post("/authors/<int:author_id>/standing")
def standing(author_id: int) -> Response:
    days = request.form.get("days", "")
    review().set_standing(current_user, author_id, request.form.get("standing", ""),
                          days=int(days) if days.isdigit() else None,
                          note=(request.form.get("note") or "").strip() or None)
    flash(f"Author {author_id} is now {request.form['standing']}.", "info")
    back = request.form.get("comment_id", "")
    if back.isdigit():
        filters = _query_from(request.form).filters()
        return redirect(url_for(".item", comment_id=int(back), **filters))
    return redirect(url_for(".queue"))


@bp.get("/dashboard")
def dashboard() -> str:
    summary = current_app.extensions["moderation.dashboard"].summary(current_user)
    return render_template("dashboard.html", summary=summary)


def _query_from(values, cursor: str | None = None) -> QueueQuery:
    def text(name: str) -> str | None:
        value = (values.get(name) or "").strip()
        return value or None

    try:
        limit = int(values.get("limit") or 50)
    except ValueError:
        abort(400)
    return QueueQuery(queue=text("queue") or "pending", order=text("order") or "priority",
                      site=text("site"), article=text("article"), label=text("label"),
                      author=text("author"), text=text("q"), limit=limit, cursor=cursor)


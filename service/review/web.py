"""The moderators' web UI: queues, one item at a time, bulk decisions, authors, dashboard.

Server-rendered pages whose every action is a plain form, so all of it works without
JavaScript; ``static/moderation.js`` only adds keys. Comment text is only ever rendered
through Jinja's autoescaping.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from classifier import LABELS
from service.api import clean_field, domain_error_page, load_form, status_of, whole_number
from service.container import services
from service.errors import Conflict, DomainError, InvalidInput, NotFound
from service.extensions import csrf
from service.review.charts import bar_chart
from service.review.schemas import ArticleArgs, DecisionIn, QueueArgs, queue_query
from service.review.services import DECISIONS, MAX_NOTE, ORDERS, QUEUES, QueueQuery, ReviewService

bp = Blueprint("moderation", __name__, url_prefix="/moderation")
PAST_TENSE = {"approve": "Approved", "reject": "Rejected", "remove": "Removed",
              "restore": "Restored"}


def review() -> ReviewService:
    return services().review


@bp.before_request
@login_required
def _signed_in() -> None:
    """Every page needs a signed-in user; every form post a valid CSRF token."""
    if request.method == "POST":
        csrf.protect()
    g.counts = review().counts(current_user)


@bp.context_processor
def _last_decision() -> dict:
    """The user's decision that ``u`` may still undo, looked up only when a page of this
    blueprint renders (not for a chart, a drawer or a JSON answer)."""
    return {"last_decision": lambda: review().last_undoable(current_user)}


bp.register_error_handler(DomainError, domain_error_page)


@bp.get("/")
def queue() -> str:
    query = _query_from(request.args, cursor=request.args.get("cursor"))
    page = review().queue(current_user, query)
    return render_template(
        "queue.html", query=query, page=page, rows=review().rows(page.items), queues=QUEUES,
        orders=ORDERS, labels=LABELS,
        sites=review().visible_sites(current_user),
        reasons=review().bulk_reasons(current_user, query.site),
        filters=query.filters())


@bp.post("/bulk")
def bulk() -> Response:
    query = _query_from(request.form)
    ids = [number for number in map(whole_number, request.form.getlist("ids"))
           if number is not None]
    if not ids:
        flash("Select at least one comment.", "error")
        return redirect(url_for(".queue", **query.filters()))
    try:
        decision = _decision()
        result = review().decide_many(current_user, ids, decision["action"],
                                      reason=decision.get("reason"), note=decision.get("note"))
    except InvalidInput as error:  # no reason chosen, say: back to the queue, nothing lost
        flash(str(error), "error")
        return redirect(url_for(".queue", **query.filters()))
    if result.decided:
        flash(f"{PAST_TENSE[decision['action']]} {len(result.decided)} comment(s).", "info")
    if result.failed:
        # One message, however many failed: the session cookie that carries it is small.
        shown = "; ".join(f"comment {comment_id}: {message}"
                          for comment_id, message in list(result.failed.items())[:3])
        more = len(result.failed) - 3
        flash(f"{len(result.failed)} not decided. {shown}"
              + (f"; and {more} more." if more > 0 else ""), "error")
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
def decide(comment_id: int) -> Response | tuple[Response, int]:
    """A decision from the item page (then on to the next comment) or, asked for JSON by the
    queue page's keys, from a row of the list, which then updates in place."""
    query = _query_from(request.form)
    service = review()
    if _wants_json():
        try:
            decision = _decision()
            comment = service.decide(current_user, comment_id, decision["action"],
                                     reason=decision.get("reason"), note=decision.get("note"))
        except (Conflict, InvalidInput, NotFound) as error:
            code = status_of(error)
            return jsonify(message=str(error)), code
        return jsonify(id=comment.id, status=comment.status,
                       message=f"{PAST_TENSE[decision['action']]} comment {comment_id}.",
                       counts=review().counts(current_user))
    comment = service.get(current_user, comment_id)
    _, next_id = service.neighbours(current_user, query, comment)
    try:
        decision = _decision()
        service.decide(current_user, comment_id, decision["action"],
                       reason=decision.get("reason"), note=decision.get("note"))
    except (Conflict, InvalidInput) as error:
        flash(str(error), "error")
        return redirect(url_for(".item", comment_id=comment_id, **query.filters()))
    flash(f"{PAST_TENSE[decision['action']]} comment {comment_id}.", "info")
    if next_id is not None:
        return redirect(url_for(".item", comment_id=next_id, **query.filters()))
    return redirect(url_for(".queue", **query.filters()))


@bp.post("/comments/<int:comment_id>/undo")
def undo(comment_id: int) -> Response | tuple[Response, int]:
    """Take back one's own decision of the last minute (the queue's u key, or the button)."""
    try:
        comment = review().undo(current_user, comment_id)
    except Conflict as error:
        if _wants_json():
            return jsonify(message=str(error)), 409
        flash(str(error), "error")
    else:
        message = f"Undone: comment {comment_id} is {comment.status.replace('_', ' ')} again."
        if _wants_json():
            return jsonify(id=comment_id, status=comment.status, message=message,
                           counts=review().counts(current_user))
        flash(message, "info")
    return redirect(url_for(".queue", **_query_from(request.form).filters()))


@bp.post("/comments/<int:comment_id>/feature")
def feature(comment_id: int) -> Response:
    """Feature a published comment, or stop featuring it (the form's ``featured``: 1 or 0)."""
    featured = request.form.get("featured") == "1"
    try:
        review().feature(current_user, comment_id, featured, note=_form_text("note"))
    except Conflict as error:
        flash(str(error), "error")
    else:
        flash(f"{'Featured' if featured else 'No longer featuring'} comment {comment_id}.",
              "info")
    return redirect(url_for(".item", comment_id=comment_id,
                            **_query_from(request.form).filters()))


@bp.get("/articles")
def articles() -> str:
    """Each article's queues: counts, latest activity, and closing it to new comments."""
    args = load_form(ArticleArgs(), request.args)  # the API's rules for the same query
    site, page = args.get("site"), args["page"]
    rows, more = review().articles(current_user, site=site, page=page, limit=args["limit"])
    return render_template("articles.html", rows=rows, more=more, page=page, chosen=site,
                           queues=QUEUES, sites=review().visible_sites(current_user))


@bp.post("/articles/<int:article_id>/closed")
def article_closed(article_id: int) -> Response:
    closed = request.form.get("closed") == "1"
    article = review().set_closed(current_user, article_id, closed)
    name = article.title or article.external_id
    flash(f"{name}: {'closed to new comments' if closed else 'open to new comments'}.", "info")
    return redirect(url_for(".articles", site=_form_text("site", 100)))


@bp.get("/authors/<int:author_id>")
def author(author_id: int) -> str:
    """An author's standing and history, with the standing actions: a page, or with
    ``?drawer=1`` the part the queue's h key shows beside the list."""
    found, history = review().author(current_user, author_id)
    query = _query_from(request.args)
    if request.args.get("drawer") == "1":
        return render_template("moderation/_author.html", author=found, history=history,
                               filters=query.filters())
    return render_template("author.html", author=found, history=history,
                           filters=query.filters())


@bp.post("/authors/<int:author_id>/standing")
def standing(author_id: int) -> Response:
    author = review().set_standing(current_user, author_id, _form_text("standing", 20) or "",
                                   days=whole_number(request.form.get("days", "")),
                                   note=_form_text("note"))
    flash(f"Author {author_id} is now {author.standing}.", "info")
    back = whole_number(request.form.get("comment_id", ""))
    if back is not None:
        filters = _query_from(request.form).filters()
        return redirect(url_for(".item", comment_id=back, **filters))
    return redirect(url_for(".queue"))


@bp.get("/dashboard")
def dashboard() -> str:
    summary = services().dashboard.summary(current_user)
    return render_template("dashboard.html", summary=summary)


# name -> (its bars from the dashboard service, the y axis, whether a share, label every
# n-th bar): each chart asks only for its own figures.
DASHBOARD_CHARTS = {
    "decisions": (lambda dashboard, user: dashboard.hourly(user), "decisions", False, 3),
    "automatic": (lambda dashboard, user: dashboard.daily(user)[0], "decided at once", True, 1),
    "overturned": (lambda dashboard, user: dashboard.daily(user)[1], "against the classifier",
                   True, 1),
}


@bp.get("/dashboard/<name>.png")
def dashboard_chart(name: str) -> Response:
    """One of the dashboard's charts, for the user's sites, as of now."""
    if name not in DASHBOARD_CHARTS:
        raise NotFound(f"no chart named {name}")
    bars, ylabel, share, every = DASHBOARD_CHARTS[name]
    png = bar_chart(bars(services().dashboard, current_user),
                    ylabel=ylabel, share=share, every=every)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=60"})


def _query_from(values, cursor: str | None = None) -> QueueQuery:
    """The queue's filters from the page's query or form, read by the API's QueueArgs."""
    filled = {**values, "cursor": cursor} if cursor else values
    return queue_query(load_form(QueueArgs(), filled))


def _decision() -> dict:
    """The decision a form posts (action, reason, note), read by the API's DecisionIn."""
    return load_form(DecisionIn(), request.form)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _form_text(name: str, max_length: int = MAX_NOTE) -> str | None:
    return clean_field(name, request.form.get(name), max_length)


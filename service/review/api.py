"""The moderation JSON API, for tools: the same queues and actions as the web UI.

A request is authenticated by a moderator's token (``Authorization: Bearer mt_...``) or by
the web UI's session cookie; with the cookie, a POST must also carry the CSRF token
(``X-CSRFToken``), as a form would.
"""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from service.api import (
    USER_SECURITY,
    SafeJsonParser,
    authenticate_user,
    refuse_impossible_path_values,
)
from service.container import services
from service.errors import NotFound
from service.review.schemas import (
    ArticleArgs,
    ArticlePageOut,
    ArticleRowOut,
    AuditOut,
    AuthorStandingOut,
    BulkDecisionIn,
    BulkDecisionOut,
    ClaimOut,
    ClosedIn,
    DecisionIn,
    FeatureIn,
    ItemOut,
    ModerationCommentOut,
    QueueArgs,
    QueuePageOut,
    StandingIn,
    queue_query,
)
from service.review.services import ReviewService

MODERATOR_SECURITY = USER_SECURITY


class ModerationBlueprint(Blueprint):
    ARGUMENTS_PARSER = SafeJsonParser()


blp = ModerationBlueprint("moderation-api", __name__, url_prefix="/v1/moderation",
                          description="Work the review queues from a tool: list, claim, decide, "
                                      "read the audit log.")


def review() -> ReviewService:
    return services().review


@blp.before_request
def _authenticate() -> None:
    g.user = authenticate_user()
    refuse_impossible_path_values()


@blp.route("/queue")
class Queue(MethodView):
    @blp.doc(security=MODERATOR_SECURITY)
    @blp.arguments(QueueArgs, location="query")
    @blp.response(200, QueuePageOut)
    def get(self, args):
        """One page of a queue, most likely harmful first (or oldest first)."""
        page = review().queue(g.user, queue_query(args))
        return {"items": page.items, "next_cursor": page.next_cursor,
                "counts": review().counts(g.user)}


@blp.route("/comments/<int:comment_id>")
class Item(MethodView):
    @blp.doc(security=MODERATOR_SECURITY)
    @blp.response(200, ItemOut)
    def get(self, comment_id: int):
        """A comment with the words that drove its score, its parent and its author's counts
        (reading it does not claim it)."""
        return review().detail(g.user, comment_id, claim=False)


@blp.route("/comments/<int:comment_id>/claim")
class Claim(MethodView):
    @blp.doc(security=MODERATOR_SECURITY)
    @blp.response(200, ClaimOut)
    @blp.alt_response(409, description="Another moderator holds a live claim on it.")
    def post(self, comment_id: int):
        """Lease the comment to yourself for a few minutes: it is served to no one else."""
        comment = review().claim(g.user, comment_id)
        return {"id": comment.id, "claimed_by": g.user.username,
                "claim_expires_at": comment.claim_expires_at}


@blp.route("/comments/<int:comment_id>/decision")
class Decision(MethodView):
    @blp.doc(security=MODERATOR_SECURITY)
    @blp.arguments(DecisionIn)
    @blp.response(200, ModerationCommentOut)
    @blp.alt_response(409, description="The comment is no longer in a status that allows the "
                                       "action (someone decided it already), or another "
                                       "moderator holds it.")
    def post(self, decision, comment_id: int):
        """Approve, reject, remove or restore a comment."""
        return review().decide(g.user, comment_id, decision["action"],
                               reason=decision.get("reason"), note=decision.get("note"))


@blp.route("/comments/<int:comment_id>/undo")
class Undo(MethodView):
    @blp.doc(security=MODERATOR_SECURITY)
    @blp.response(200, ModerationCommentOut)
    @blp.alt_response(409, description="No decision of yours on it in the last minute, or "
                                       "someone acted on it since.")
    def post(self, comment_id: int):
        """Take back your decision of the last minute: the comment returns to where it was;
        the host site's event is withdrawn if it had not gone out, else corrected."""
        return review().undo(g.user, comment_id)


@blp.route("/comments/<int:comment_id>/featured")
class Featured(MethodView):
    @blp.doc(security=MODERATOR_SECURITY)
    @blp.arguments(FeatureIn)
    @blp.response(200, ModerationCommentOut)
    @blp.alt_response(409, description="Only a published comment can be featured; it is "
                                       "already as asked.")
    def put(self, change, comment_id: int):
        """Feature a published comment, or stop featuring it: the host site hears
        `comment.featured` or `comment.unfeatured`."""
        return review().feature(g.user, comment_id, change["featured"], note=change.get("note"))


@blp.route("/articles")
class Articles(MethodView):
    @blp.doc(security=MODERATOR_SECURITY)
    @blp.arguments(ArticleArgs, location="query")
    @blp.response(200, ArticlePageOut)
    def get(self, args):
        """Articles with comments, latest activity first, with their counts per queue."""
        rows, more = review().articles(g.user, site=args.get("site"), page=args["page"],
                                       limit=args["limit"])
        return {"items": rows, "more": more}


@blp.route("/articles/<int:article_id>/closed")
class ArticleClosed(MethodView):
    @blp.doc(security=MODERATOR_SECURITY)
    @blp.arguments(ClosedIn)
    @blp.response(200, ArticleRowOut)
    def put(self, change, article_id: int):
        """Close an article to new comments, or open it again."""
        review().set_closed(g.user, article_id, change["closed"])
        rows, _ = review().articles(g.user, article_id=article_id)
        if not rows:
            raise NotFound(f"no article {article_id}")
        return rows[0]


@blp.route("/decisions")
class BulkDecision(MethodView):
    @blp.doc(security=MODERATOR_SECURITY)
    @blp.arguments(BulkDecisionIn)
    @blp.response(200, BulkDecisionOut)
    def post(self, decision):
        """The same decision over up to 500 comments; each succeeds or fails on its own."""
        result = review().decide_many(g.user, decision["ids"], decision["action"],
                                      reason=decision.get("reason"), note=decision.get("note"))
        return {"decided": result.decided,
                "failed": {str(key): value for key, value in result.failed.items()}}


@blp.route("/comments/<int:comment_id>/audit")
class Audit(MethodView):
    @blp.doc(security=MODERATOR_SECURITY)
    @blp.response(200, AuditOut)
    def get(self, comment_id: int):
        """Every action on the comment (and on its author), oldest first."""
        return {"items": review().audit(g.user, comment_id)}


@blp.route("/authors/<int:author_id>/standing")
class Standing(MethodView):
    @blp.doc(security=MODERATOR_SECURITY)
    @blp.arguments(StandingIn)
    @blp.response(200, AuthorStandingOut)
    def post(self, change, author_id: int):
        """Ban, suspend, trust an author, or return them to normal standing."""
        return review().set_standing(g.user, author_id, change["standing"],
                                     days=change.get("days"), note=change.get("note"))

"""Host-site endpoints for comments: submit one, read one back."""

from flask import g, jsonify
from flask.views import MethodView

from service.api import SITE_SECURITY, SiteBlueprint
from service.container import services
from service.submission.schemas import CommentIn, CommentOut, FlagIn, FlagOut
from service.submission.services import SubmissionService

blp = SiteBlueprint("comments", __name__, url_prefix="/v1/comments",
                description="Submit comments for moderation and read their status.")


def submissions() -> SubmissionService:
    return services().submissions


@blp.route("")
class Comments(MethodView):
    @blp.doc(security=SITE_SECURITY)
    @blp.arguments(CommentIn)
    @blp.response(201, CommentOut, description="Stored and decided.")
    @blp.alt_response(200, schema=CommentOut,
                      description="A repeat of an earlier submission with the same client_id.")
    @blp.alt_response(409, description="The client_id was used for a different comment, or "
                                       "the article is closed to new comments.")
    def post(self, payload):
        """Submit a comment: it is scored and approved, rejected or held for review at once."""
        shown, created = submissions().submit(g.site, payload)
        # Already the API's shape (CommentOut, kept equal by a test): not dumped again.
        return jsonify(shown), 201 if created else 200


@blp.route("/<int:comment_id>")
class CommentById(MethodView):
    @blp.doc(security=SITE_SECURITY)
    @blp.response(200, CommentOut)
    def get(self, comment_id: int):
        """A comment with its current status and scores."""
        return submissions().get(g.site, comment_id)


@blp.route("/<int:comment_id>/flags")
class CommentFlags(MethodView):
    @blp.doc(security=SITE_SECURITY)
    @blp.arguments(FlagIn)
    @blp.response(201, FlagOut, description="Counted.")
    @blp.alt_response(200, schema=FlagOut, description="This reader had flagged it already.")
    @blp.alt_response(409, description="The comment is not published.")
    def post(self, flag, comment_id: int):
        """A reader flags a published comment; the site's number of flags (3 unless set)
        takes it off the page and back to review."""
        comment, counted = services().review.flag(
            g.site, comment_id, flag["reason"], flag.get("reporter_id"))
        return ({"comment_id": comment.id, "counted": counted, "flags": comment.flag_count,
                 "status": comment.status}, 201 if counted else 200)

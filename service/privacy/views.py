"""Host-site endpoint for the right to erasure: ``DELETE /v1/authors/<author_id>``."""

import marshmallow as ma
from flask import g
from flask.views import MethodView

from service.api import SITE_SECURITY, SiteBlueprint
from service.container import services
from service.privacy.services import PrivacyService

blp = SiteBlueprint("privacy", __name__, url_prefix="/v1",
                    description="Erase a reader's comments and name (the right to erasure).")


class ErasureOut(ma.Schema):
    author_id = ma.fields.String(metadata={"description": "The site's own id for the author."})
    comments_erased = ma.fields.Integer(metadata={
        "description": "Comments whose text was erased by this call (0 when called again)."})
    events_emitted = ma.fields.Integer(metadata={
        "description": "`comment.removed` events written, one per comment that was "
                       "published or reported: take those down."})
    events_scrubbed = ma.fields.Integer(metadata={
        "description": "Earlier events whose payload had the text or name blanked."})
    examples_removed = ma.fields.Integer(metadata={
        "description": "Training examples made from this site's decisions on the text."})
    remaining = ma.fields.Integer(metadata={
        "description": "Comments still to erase (a very long history does not fit in one "
                       "request): with 202, call again to go on; 0 with 200."})


def privacy() -> PrivacyService:
    return services().privacy


@blp.route("/authors/<path:author_id>")
class AuthorErasure(MethodView):
    @blp.doc(security=SITE_SECURITY)
    @blp.response(200, ErasureOut, description="Erased (or nothing was left to erase).")
    @blp.alt_response(202, schema=ErasureOut,
                      description="Part erased: `remaining` comments need another call.")
    @blp.alt_response(404, description="The site has no author with this id.")
    def delete(self, author_id: str):
        """Erase an author of this site: their name, and the text of every comment they
        wrote here, in comments, events, moderators' notes and training examples. Their
        comments stay as blank, removed rows (rejected ones stay rejected); each published
        one gets a `comment.removed` event with neither text nor name. Calling again is
        harmless and answers zeros. A history too long for one request answers 202 with
        `remaining`: call again until it answers 200."""
        report = privacy().erase_author(g.site, author_id)
        return ({"author_id": author_id, "comments_erased": report.comments_erased,
                 "events_emitted": report.events_emitted,
                 "events_scrubbed": report.events_scrubbed,
                 "examples_removed": report.examples_removed, "remaining": report.remaining},
                202 if report.remaining else 200)

"""Host-site read endpoints: an article's published comments (with ETag) and the event feed."""

import hashlib
import json

from flask import Response, g, request
from flask.views import MethodView

from service.api import SITE_SECURITY, SiteBlueprint
from service.container import services
from service.publishing.schemas import ArticleCommentsOut, EventArgs, EventPageOut, PageArgs
from service.publishing.services import PublishingService

blp = SiteBlueprint("publishing", __name__, url_prefix="/v1",
                    description="Read what is published, and every decision as an event.")


def publishing() -> PublishingService:
    return services().publishing


@blp.route("/articles/<path:article_id>/comments")
class ArticleComments(MethodView):
    @blp.doc(security=SITE_SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, ArticleCommentsOut)
    @blp.alt_response(304, description="Nothing changed since the ETag sent in If-None-Match.")
    def get(self, args, article_id: str):
        """The article's published comments, threaded; poll with If-None-Match."""
        page = publishing().article_comments(g.site, article_id, cursor=args.get("cursor"),
                                             limit=args["limit"])
        result = {"article_id": article_id, "threads": page.threads,
                  "next_cursor": page.next_cursor}
        # The ETag is a digest of the page itself, so anything shown on it (a status, an
        # author's new name) changes it.
        body = json.dumps(ArticleCommentsOut().dump(result), sort_keys=True).encode()
        etag = hashlib.sha256(body).hexdigest()[:32]
        if request.if_none_match.contains(etag):
            return Response(status=304, headers={"ETag": f'"{etag}"'})
        return result, 200, {"ETag": f'"{etag}"'}


@blp.route("/events")
class Events(MethodView):
    @blp.doc(security=SITE_SECURITY)
    @blp.arguments(EventArgs, location="query")
    @blp.response(200, EventPageOut)
    def get(self, args):
        """The site's events after a cursor, oldest first: for sites without webhooks."""
        page = publishing().events(g.site, after=args.get("after"), limit=args["limit"])
        return {"items": page.events, "next_cursor": page.next_cursor}

"""What the moderation API takes and answers."""

import marshmallow as ma
from marshmallow import validate

from classifier import LABELS
from service.api import CleanString
from service.review.services import (
    MAX_BULK,
    MAX_LIMIT,
    MAX_NOTE,
    MAX_SEARCH,
    ORDERS,
    QUEUES,
    QueueQuery,
)
from service.scoring.schemas import SpanOut
from service.submission.schemas import MAX_ID, CommentOut

DECISION_ACTIONS = ["approve", "reject", "remove", "restore"]


class QueueArgs(ma.Schema):
    queue = ma.fields.String(load_default="pending", validate=validate.OneOf(list(QUEUES)))
    order = ma.fields.String(load_default="priority", validate=validate.OneOf(ORDERS),
                             metadata={"description": "`priority`: most likely harmful first; "
                                                      "`oldest`: first come, first served."})
    site = CleanString(validate=validate.Length(1, 100), metadata={"description": "Site name."})
    article = CleanString(validate=validate.Length(1, 200),
                          metadata={"description": "The site's article id."})
    author = CleanString(validate=validate.Length(1, 200),
                         metadata={"description": "The site's author id."})
    label = ma.fields.String(validate=validate.OneOf(LABELS),
                             metadata={"description": "The comment's most likely label."})
    q = CleanString(validate=validate.Length(1, MAX_SEARCH),
                    metadata={"description": "Text the comment contains (any case)."})
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(1, MAX_LIMIT))
    cursor = CleanString(validate=validate.Length(1, 200),
                         metadata={"description": "`next_cursor` of the previous page."})


def queue_query(args: dict) -> QueueQuery:
    """The review service's query from :class:`QueueArgs` as loaded (API and pages alike)."""
    return QueueQuery(queue=args["queue"], order=args["order"], site=args.get("site"),
                      article=args.get("article"), label=args.get("label"),
                      author=args.get("author"), text=args.get("q"), limit=args["limit"],
                      cursor=args.get("cursor"))


class ModerationCommentOut(CommentOut):
    site = ma.fields.Function(lambda comment: comment.site.name)
    article_title = ma.fields.Function(lambda comment: comment.article.title)
    article_url = ma.fields.Function(lambda comment: comment.article.url)
    top_label = ma.fields.String(allow_none=True)
    flag_count = ma.fields.Integer()
    author_id = ma.fields.Integer(metadata={"description": "The service's id for the author "
                                                           "(for the author endpoints)."})


class QueuePageOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ModerationCommentOut))
    next_cursor = ma.fields.String(allow_none=True, metadata={
        "description": "Pass as `cursor` for the next page; null on the last page."})
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(),
                            metadata={"description": "Comments in each queue."})


class ClaimOut(ma.Schema):
    comment_id = ma.fields.Integer(attribute="id")
    claimed_by = ma.fields.String()
    expires_at = ma.fields.DateTime(attribute="claim_expires_at")


class DecisionIn(ma.Schema):
    action = ma.fields.String(required=True, validate=validate.OneOf(DECISION_ACTIONS),
                              metadata={"description": "approve or reject a comment in review; "
                                                       "remove a published one; restore a "
                                                       "rejected or removed one."})
    reason = CleanString(validate=validate.Length(1, 200), metadata={
        "description": "Required to reject or remove: one of the site's reasons."})
    note = CleanString(validate=validate.Length(max=MAX_NOTE))


class ArticleArgs(ma.Schema):
    site = CleanString(validate=validate.Length(1, 100))
    page = ma.fields.Integer(load_default=1, validate=validate.Range(1, 10_000))
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(1, 200))


class ArticleRowOut(ma.Schema):
    id = ma.fields.Function(lambda row: row.article.id)
    article_id = ma.fields.Function(lambda row: row.article.external_id,
                                    metadata={"description": "The site's id for the article."})
    title = ma.fields.Function(lambda row: row.article.title)
    url = ma.fields.Function(lambda row: row.article.url)
    site = ma.fields.String(attribute="site_name")
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(),
                            metadata={"description": "Comments in each queue."})
    last_activity = ma.fields.DateTime()
    closed_since = ma.fields.DateTime(allow_none=True, metadata={
        "description": "Set while the article takes no new comments."})


class ArticlePageOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ArticleRowOut))
    more = ma.fields.Boolean(metadata={"description": "Whether the next page has more."})


class ClosedIn(ma.Schema):
    closed = ma.fields.Boolean(required=True, metadata={
        "description": "true: new comments are refused (409); false: open again."})


class FeatureIn(ma.Schema):
    featured = ma.fields.Boolean(required=True, metadata={
        "description": "true to feature a published comment, false to stop featuring it."})
    note = CleanString(validate=validate.Length(max=MAX_NOTE))


class BulkDecisionIn(DecisionIn):
    ids = ma.fields.List(ma.fields.Integer(strict=True, validate=validate.Range(1, MAX_ID)),
                         required=True, validate=validate.Length(1, MAX_BULK))


class BulkDecisionOut(ma.Schema):
    decided = ma.fields.List(ma.fields.Integer())
    failed = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(),
                            metadata={"description": "Comment id: why it was not decided."})


class AuditEntryOut(ma.Schema):
    id = ma.fields.Integer()
    actor = ma.fields.String(metadata={"description": "A moderator, `classifier` or `readers`."})
    action = ma.fields.String()
    status_before = ma.fields.String(allow_none=True)
    status_after = ma.fields.String(allow_none=True)
    reason = ma.fields.String(allow_none=True)
    note = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()


class AuditOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AuditEntryOut))


class ItemOut(ma.Schema):
    comment = ma.fields.Nested(ModerationCommentOut)
    spans = ma.fields.List(ma.fields.Nested(SpanOut))
    parent = ma.fields.Nested(ModerationCommentOut, allow_none=True)
    author_counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    reject_reasons = ma.fields.List(ma.fields.String())
    claimed_by = ma.fields.String(allow_none=True)


class StandingIn(ma.Schema):
    standing = ma.fields.String(required=True, validate=validate.OneOf(
        ["normal", "trusted", "suspended", "banned"]))
    days = ma.fields.Integer(strict=True, validate=validate.Range(1, 365),
                             metadata={"description": "How long a suspension lasts."})
    note = CleanString(validate=validate.Length(max=MAX_NOTE))


class AuthorStandingOut(ma.Schema):
    id = ma.fields.Integer()
    external_id = ma.fields.String()
    standing = ma.fields.String()
    suspended_until = ma.fields.DateTime(allow_none=True)

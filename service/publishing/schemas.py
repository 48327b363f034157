"""What host sites read: an article's published comments, threaded, and the event feed."""

import marshmallow as ma
from marshmallow import validate

from service.api import CleanString
from service.publishing.services import MAX_PAGE
from service.submission.schemas import CommentOut


class PageArgs(ma.Schema):
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(1, MAX_PAGE))
    cursor = CleanString(validate=validate.Length(1, 20),
                         metadata={"description": "`next_cursor` of the previous page."})


class EventArgs(ma.Schema):
    after = CleanString(validate=validate.Length(1, 20), metadata={
        "description": "`next_cursor` of the previous page; from the start without it."})
    limit = ma.fields.Integer(load_default=100, validate=validate.Range(1, MAX_PAGE))


class ThreadOut(ma.Schema):
    comment = ma.fields.Nested(CommentOut)
    replies = ma.fields.List(ma.fields.Nested(lambda: ThreadOut()))


class ArticleCommentsOut(ma.Schema):
    article_id = ma.fields.String()
    threads = ma.fields.List(ma.fields.Nested(ThreadOut), metadata={
        "description": "Top-level published comments, oldest first, each with its published "
                       "replies; a published reply to an unpublished comment stands alone."})
    next_cursor = ma.fields.String(allow_none=True)


class EventOut(ma.Schema):
    id = ma.fields.Integer()
    message_id = ma.fields.String(metadata={"description": "The webhook-id it is delivered "
                                                           "with."})
    type = ma.fields.String(metadata={"enum": ["comment.approved", "comment.rejected",
                                               "comment.held", "comment.removed",
                                               "comment.restored"]})
    timestamp = ma.fields.String(attribute="payload.timestamp")
    data = ma.fields.Dict(attribute="payload.data",
                          metadata={"description": "The comment as the API showed it then."})
    delivery = ma.fields.String(attribute="status")


class EventPageOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(EventOut))
    next_cursor = ma.fields.String(allow_none=True, metadata={
        "description": "Pass as `after` next time (the same value when nothing is new)."})

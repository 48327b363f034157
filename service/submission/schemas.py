"""What a host site sends and what it gets back, for comments."""

import marshmallow as ma
from marshmallow import validate

from service.api import CleanString, CleanUrl
from service.comments.models import CommentStatus

MAX_TEXT = 10_000
MAX_ID = 2**63 - 1  # ids are 64-bit: anything larger cannot be one of ours


class AuthorIn(ma.Schema):
    id = CleanString(required=True, validate=validate.Length(1, 200),
                     metadata={"description": "The site's own id for the author."})
    name = CleanString(validate=validate.Length(max=200))


class CommentIn(ma.Schema):
    article_id = CleanString(required=True, validate=validate.Length(1, 200),
                             metadata={"description": "The site's own id for the article; "
                                                      "created on first use."})
    article_url = CleanUrl(schemes={"http", "https"}, validate=validate.Length(max=2000))
    article_title = CleanString(validate=validate.Length(max=500))
    author = ma.fields.Nested(AuthorIn, required=True)
    text = CleanString(required=True, validate=validate.Length(1, MAX_TEXT),
                       metadata={"description": "1 to 10,000 characters after trimming."})
    parent_id = ma.fields.Integer(strict=True, validate=validate.Range(1, MAX_ID),
                                  metadata={"description": "Id of the comment this replies to, "
                                                           "on the same article."})
    client_id = CleanString(validate=validate.Length(1, 200),
                            metadata={"description": "The site's own id for the comment; a "
                                                     "repeat with it is answered, not stored twice."})


class ReasonOut(ma.Schema):
    """A rule of the site's decision policy that fired."""

    label = ma.fields.String(metadata={"description": "A label; `any` (the combined score); "
                                                      "`language`; or `author` (the author's "
                                                      "standing)."})
    score = ma.fields.Float(allow_none=True)
    action = ma.fields.String(metadata={"description": "What the rule does: `hold` or "
                                                       "`reject` (`publish` for a trusted "
                                                       "author)."})
    threshold = ma.fields.String(metadata={"description": "hold_at, reject_at, "
                                                          "unsupported_language, or the "
                                                          "author's standing"})
    value = ma.fields.Float(allow_none=True, metadata={"description": "The threshold's value."})


class AuthorOut(ma.Schema):
    id = ma.fields.String(attribute="external_id")
    name = ma.fields.String(allow_none=True)


class CommentOut(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.String(metadata={"enum": [s.value for s in CommentStatus]})
    score = ma.fields.Float(metadata={"description": "0-1: how likely the comment should not "
                                                     "be published."})
    scores = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Float(),
                            metadata={"description": "One 0-1 probability per label."})
    reasons = ma.fields.List(ma.fields.Nested(ReasonOut))
    model_version = ma.fields.String()
    language = ma.fields.String(allow_none=True, metadata={
        "description": "ISO 639-1 code of the comment's language, `und` when undetermined."})
    article_id = ma.fields.Function(lambda comment: comment.article.external_id)
    author = ma.fields.Nested(AuthorOut)
    parent_id = ma.fields.Integer(allow_none=True)
    client_id = ma.fields.String(allow_none=True)
    text = ma.fields.String()
    featured = ma.fields.Boolean(metadata={"description": "A moderator chose it to stand out "
                                                          "under the article."})
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class FlagIn(ma.Schema):
    reason = CleanString(required=True, validate=validate.Length(1, 200),
                         metadata={"description": "Why the reader flagged it, in their words "
                                                  "or the site's category."})
    reporter_id = CleanString(validate=validate.Length(1, 200),
                              metadata={"description": "The site's id for the reader: a reader "
                                                       "counts once per comment."})


class FlagOut(ma.Schema):
    comment_id = ma.fields.Integer()
    counted = ma.fields.Boolean(metadata={"description": "False when this reader had already "
                                                         "flagged the comment."})
    flags = ma.fields.Integer(metadata={"description": "Flags so far."})
    status = ma.fields.String(metadata={"description": "`reported` once enough readers flagged "
                                                       "it: hidden until a moderator decides."})

"""Score-only requests: nothing is stored."""

import marshmallow as ma
from marshmallow import validate

from service.api import CleanString
from service.submission.schemas import MAX_TEXT, ReasonOut

MAX_BATCH = 500
BATCH_BODY_BYTES = 1024 * 1024
"""The batch endpoint's own body cap (every other endpoint's is 64 KB): 500 comments of
about 2,000 characters each."""


class ScoreIn(ma.Schema):
    text = CleanString(required=True, validate=validate.Length(1, MAX_TEXT))


class ScoreBatchIn(ma.Schema):
    texts = ma.fields.List(CleanString(validate=validate.Length(1, MAX_TEXT)), required=True,
                           validate=validate.Length(1, MAX_BATCH),
                           metadata={"description": "1 to 500 texts; the body may be up "
                                                    "to 1 MB."})
    spans = ma.fields.Boolean(load_default=False,
                              metadata={"description": "Also return, for each text, the words "
                                                       "that drove each likely label."})


class SpanOut(ma.Schema):
    label = ma.fields.String()
    start = ma.fields.Integer(metadata={"description": "Offset of the first character."})
    end = ma.fields.Integer(metadata={"description": "Offset after the last character."})
    text = ma.fields.String()
    weight = ma.fields.Float(metadata={"description": "How much it raised the label's logit."})


class ScoreOut(ma.Schema):
    score = ma.fields.Float()
    scores = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Float())
    status = ma.fields.String(metadata={"description": "The decision a submission would get."})
    reasons = ma.fields.List(ma.fields.Nested(ReasonOut))
    language = ma.fields.String(metadata={"description": "ISO 639-1 code, `und` when "
                                                         "undetermined."})
    model_version = ma.fields.String()


class ScoreWithSpansOut(ScoreOut):
    spans = ma.fields.List(ma.fields.Nested(SpanOut),
                           metadata={"description": "The words that drove each likely label."})


class ScoreBatchOut(ma.Schema):
    results = ma.fields.List(ma.fields.Nested(ScoreWithSpansOut),
                             metadata={"description": "`spans` only when asked for."})

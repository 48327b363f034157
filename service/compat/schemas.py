"""Request bodies of the Perspective API and OpenAI's moderation endpoint, in their own field
names. Fields this service has no use for are accepted and ignored, as the originals do with
fields a model does not use; the answers are built by the domain modules as plain JSON."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from service.api import CleanString
from service.scoring.schemas import MAX_BATCH
from service.submission.schemas import MAX_TEXT

MAX_LANGUAGES = 10
MAX_ATTRIBUTES = 20


class _Lenient(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE


class TextEntry(_Lenient):
    text = CleanString(required=True, validate=validate.Length(1, MAX_TEXT))
    type = ma.fields.String(load_default="PLAIN_TEXT", validate=validate.OneOf(["PLAIN_TEXT"]))


class AttributeOptions(_Lenient):
    scoreType = ma.fields.String(validate=validate.Length(max=40))  # noqa: N815
    scoreThreshold = ma.fields.Float(validate=validate.Range(0, 1))  # noqa: N815


class AnalyzeIn(_Lenient):
    comment = ma.fields.Nested(TextEntry, required=True)
    requestedAttributes = ma.fields.Dict(  # noqa: N815
        keys=ma.fields.String(validate=validate.Length(1, 40)),
        values=ma.fields.Nested(AttributeOptions), required=True,
        validate=validate.Length(1, MAX_ATTRIBUTES),
        metadata={"description": "TOXICITY, SEVERE_TOXICITY, INSULT, THREAT, IDENTITY_ATTACK, "
                                 "PROFANITY or SPAM, each with optional `scoreType` "
                                 "(PROBABILITY) and `scoreThreshold`."})
    languages = ma.fields.List(ma.fields.String(validate=validate.Length(1, 20)),
                               validate=validate.Length(max=MAX_LANGUAGES))
    doNotStore = ma.fields.Boolean(metadata={  # noqa: N815
        "description": "Accepted; nothing sent to analyze is ever stored."})
    spanAnnotations = ma.fields.Boolean(load_default=False)  # noqa: N815
    clientToken = CleanString(validate=validate.Length(max=200))  # noqa: N815
    sessionId = CleanString(validate=validate.Length(max=200))  # noqa: N815
    communityId = CleanString(validate=validate.Length(max=200))  # noqa: N815
    context = ma.fields.Dict(metadata={
        "description": "Accepted and not used: the model scores the comment alone."})


class SummaryScore(_Lenient):
    value = ma.fields.Float(required=True, validate=validate.Range(0, 1))
    type = ma.fields.String(validate=validate.Length(max=40))


class SuggestedAttribute(_Lenient):
    summaryScore = ma.fields.Nested(SummaryScore, required=True)  # noqa: N815


class SuggestIn(_Lenient):
    comment = ma.fields.Nested(TextEntry, required=True)
    attributeScores = ma.fields.Dict(  # noqa: N815
        keys=ma.fields.String(validate=validate.Length(1, 40)),
        values=ma.fields.Nested(SuggestedAttribute), required=True,
        validate=validate.Length(1, MAX_ATTRIBUTES),
        metadata={"description": "Each attribute's summaryScore.value: 0 fine, 1 has it "
                                 "(Coral Talk sends 0 for an approval, 1 for a rejection)."})
    languages = ma.fields.List(ma.fields.String(validate=validate.Length(1, 20)),
                               validate=validate.Length(max=MAX_LANGUAGES))
    clientToken = CleanString(validate=validate.Length(max=200))  # noqa: N815
    communityId = CleanString(validate=validate.Length(max=200))  # noqa: N815
    context = ma.fields.Dict()


class ModerationInput(ma.fields.Field):
    """OpenAI's ``input``: a string, a list of strings, or a list of ``{"type": "text",
    "text": ...}`` parts; loaded as a list of texts. Images are refused."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
            raise ma.ValidationError(f"must be a string or a list of 1 to {MAX_BATCH} "
                                     "strings or text parts")
        texts = []
        text_field = CleanString(validate=validate.Length(1, MAX_TEXT))
        for item in items:
            if isinstance(item, dict):
                if item.get("type") != "text":
                    raise ma.ValidationError("only text is moderated here (no images)")
                item = item.get("text")
            if not isinstance(item, str):
                raise ma.ValidationError("each input must be a string or a text part")
            texts.append(text_field.deserialize(item))
        return texts


class ModerationIn(_Lenient):
    input = ModerationInput(required=True, metadata={
        "description": f"A string or a list of up to {MAX_BATCH} (strings or "
                       "`{\"type\": \"text\", \"text\": ...}` parts)."})
    model = ma.fields.String(validate=validate.Length(max=100), metadata={
        "description": "Accepted; the active model answers."})

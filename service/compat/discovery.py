"""The discovery document of the Perspective API as this service answers it, so Google's own
client library works unchanged: ``googleapiclient.discovery.build("commentanalyzer",
"v1alpha1", developerKey=KEY, discoveryServiceUrl=f"{BASE}/$discovery/rest?version=
{{apiVersion}}", static_discovery=False)``.

Written here from the request and answer fields this service reads and writes (the client
builds its methods from ``rootUrl``, ``servicePath`` and each method's ``path``; it never
validates bodies against the schemas, but every ``$ref`` must name one).
"""

from __future__ import annotations

from typing import Any

VERSION = "v1alpha1"


def _object(name: str, description: str, **properties: dict[str, Any]) -> dict[str, Any]:
    return {"id": name, "type": "object", "description": description, "properties": properties}


def _method(name: str, request: str, response: str, description: str) -> dict[str, Any]:
    path = f"{VERSION}/comments:{name}"
    return {"id": f"commentanalyzer.comments.{name}", "path": path, "flatPath": path,
            "httpMethod": "POST", "parameters": {}, "parameterOrder": [],
            "request": {"$ref": request}, "response": {"$ref": response},
            "description": description}


_STRING = {"type": "string"}
_STRINGS = {"type": "array", "items": _STRING}
_SCORES = {"type": "object", "additionalProperties": {"$ref": "AttributeScores"}}

SCHEMAS = {
    "TextEntry": _object("TextEntry", "The comment's text.", text=_STRING, type=_STRING),
    "AttributeParameters": _object(
        "AttributeParameters", "How an attribute is scored.", scoreType=_STRING,
        scoreThreshold={"type": "number", "format": "float"}),
    "Score": _object("Score", "A probability.", value={"type": "number", "format": "float"},
                     type=_STRING),
    "SpanScore": _object("SpanScore", "A word that drove the attribute, scored alone.",
                         begin={"type": "integer", "format": "int32"},
                         end={"type": "integer", "format": "int32"},
                         score={"$ref": "Score"}),
    "AttributeScores": _object("AttributeScores", "An attribute's score.",
                               summaryScore={"$ref": "Score"},
                               spanScores={"type": "array", "items": {"$ref": "SpanScore"}}),
    "AnalyzeCommentRequest": _object(
        "AnalyzeCommentRequest", "A comment to score; nothing is stored.",
        comment={"$ref": "TextEntry"}, context={"type": "object"},
        requestedAttributes={"type": "object",
                             "additionalProperties": {"$ref": "AttributeParameters"}},
        languages=_STRINGS, doNotStore={"type": "boolean"}, spanAnnotations={"type": "boolean"},
        clientToken=_STRING, sessionId=_STRING, communityId=_STRING),
    "AnalyzeCommentResponse": _object(
        "AnalyzeCommentResponse", "The requested attributes' scores.",
        attributeScores=_SCORES, languages=_STRINGS, detectedLanguages=_STRINGS,
        clientToken=_STRING),
    "SuggestCommentScoreRequest": _object(
        "SuggestCommentScoreRequest", "A site's verdict on a comment: a training example.",
        comment={"$ref": "TextEntry"}, context={"type": "object"}, attributeScores=_SCORES,
        languages=_STRINGS, clientToken=_STRING, sessionId=_STRING, communityId=_STRING),
    "SuggestCommentScoreResponse": _object(
        "SuggestCommentScoreResponse", "The verdict was recorded.", clientToken=_STRING,
        detectedLanguages=_STRINGS, requestedLanguages=_STRINGS),
}


def discovery_document(root_url: str) -> dict[str, Any]:
    """The document, its methods served from ``root_url`` (this service's own address)."""
    return {
        "kind": "discovery#restDescription", "discoveryVersion": "v1",
        "id": f"commentanalyzer:{VERSION}", "name": "commentanalyzer", "version": VERSION,
        "title": "Perspective Comment Analyzer API (answered by the comment moderation "
                 "service)",
        "protocol": "rest", "rootUrl": root_url, "servicePath": "", "batchPath": "batch",
        "parameters": {
            "key": {"type": "string", "location": "query",
                    "description": "The site's API key."},
            "alt": {"type": "string", "location": "query", "default": "json",
                    "enum": ["json"]},
        },
        "resources": {"comments": {"methods": {
            "analyze": _method("analyze", "AnalyzeCommentRequest", "AnalyzeCommentResponse",
                               "Score a comment for the requested attributes."),
            "suggestscore": _method("suggestscore", "SuggestCommentScoreRequest",
                                    "SuggestCommentScoreResponse",
                                    "Record a site's verdict on a comment for training."),
        }}},
        "schemas": SCHEMAS,
    }

"""OpenAI's moderation endpoint (``POST /v1/moderations``), answered by the active model.

OpenAI's categories are not this model's labels. Each category maps onto the labels that
say the same thing, scored by the least likely of them (``hate/threatening`` needs both an
identity attack and a threat); categories the model does not learn score 0 and are never
flagged. ``flagged`` follows the site's policy: a text the policy would hold or reject.
"""

from __future__ import annotations

import uuid
from typing import Sequence

from classifier.policy import Policy
from service.comments.models import CommentStatus
from service.scoring.service import ScoringService

CATEGORIES: dict[str, tuple[str, ...]] = {
    "harassment": ("insult",),
    "harassment/threatening": ("threat",),
    "hate": ("identity_attack",),
    "hate/threatening": ("identity_attack", "threat"),
    "illicit": (),
    "illicit/violent": (),
    "self-harm": (),
    "self-harm/intent": (),
    "self-harm/instructions": (),
    "sexual": ("obscene",),
    "sexual/minors": (),
    "violence": ("threat",),
    "violence/graphic": (),
}
"""OpenAI's category -> the labels it is made of; an empty tuple: not modelled (0)."""

MODEL_PREFIX = "comment-moderation-"


def moderate(scoring: ScoringService, texts: Sequence[str], policy: Policy) -> dict:
    """The answer OpenAI's endpoint gives for ``texts``, from the active model."""
    loaded = scoring.current()
    results = []
    for assessment in scoring.assess_with(loaded, texts, policy):
        scores, categories = {}, {}
        for category, labels in CATEGORIES.items():
            if not labels:
                scores[category], categories[category] = 0.0, False
                continue
            scores[category] = min(assessment.scores[label] for label in labels)
            categories[category] = all(policy.rule(label).action(assessment.scores[label])
                                       is not None for label in labels)
        results.append({
            "flagged": assessment.status is not CommentStatus.APPROVED,
            "categories": categories,
            "category_scores": scores,
            "category_applied_input_types": {category: ["text"] for category in CATEGORIES},
        })
    return {"id": f"modr-{uuid.uuid4().hex}", "model": MODEL_PREFIX + loaded.version,
            "results": results}

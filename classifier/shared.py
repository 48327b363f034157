"""What every part of the classifier shares, importing nothing heavy: the labels, the truth
of the combined score, and the types a score comes back in. The service imports these at
start-up; scikit-learn loads only where a model is trained or used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Protocol, Sequence

import numpy as np

# What a model's features mean: the definitions in classifier/normalize.py and
# classifier/features.py. A model trained under another is refused when loaded
# (classifier/registry.py), to be retrained.
# 2 (2026-11-28): HTML character references decoded, typographic quotes folded, and the
# character norm summed over every n-gram occurrence.
# 3 (2026-12-07): a link is "xxurl" and the name of its site ("xxurl wikipedia").
FEATURES_VERSION = 3

LABELS: tuple[str, ...] = (
    "toxicity",
    "severe_toxicity",
    "insult",
    "threat",
    "identity_attack",
    "obscene",
    "spam",
)
"""The labels every model scores, in this order."""

STYLE_LABELS: tuple[str, ...] = ("obscene",)
HARMFUL_LABELS: tuple[str, ...] = tuple(label for label in LABELS if label not in STYLE_LABELS)
"""The labels that make a comment unfit to publish on their own, which the combined score
(``any``) counts: every label but ``obscene``. Swearing at nobody is a matter of house
style, which each site's policy sets with its own obscene rule; counted in the combined
score, it made "Damn, that is a hell of a tax rise." as sure to be unpublishable as a slur."""


def harmful_truth(y: np.ndarray, labels: Sequence[str] = LABELS,
                  harmful: Sequence[str] | None = None) -> np.ndarray:
    """Per row of ``y`` (a column per label): 1 if a harmful label is 1, 0 if every harmful
    label is 0, -1 when the labels cannot tell. The truth of the combined score. ``harmful``
    defaults to every label but :data:`STYLE_LABELS`."""
    y = np.asarray(y)
    columns = [j for j, label in enumerate(labels)
               if (label in harmful if harmful is not None else label not in STYLE_LABELS)]
    known = y[:, columns] if y.ndim == 2 else np.zeros((0, len(columns)), dtype=np.int8)
    return np.where((known == 1).any(axis=1), 1, np.where((known == 0).all(axis=1), 0, -1))


@dataclass(frozen=True)
class CommentScore:
    """How likely a comment should not be published (``score``) and why (``labels``)."""

    score: float
    labels: dict[str, float]


@dataclass(frozen=True)
class Span:
    """A stretch of the original text that pushed ``label`` up by ``weight`` (in logits)."""

    label: str
    start: int
    end: int
    text: str
    weight: float


class Classifier(Protocol):
    """What the service asks of a trained model to decide and explain. ``CommentClassifier``
    is the one this package trains; the service types against this, not against it."""

    labels: Sequence[str]

    def predict_proba(self, X: Iterable[str]) -> np.ndarray:
        """A row per text: a probability per label, then the combined score."""

    def predict_scores(self, X: Iterable[str]) -> list[CommentScore]:
        """The combined score and each label's probability, per text."""

    def explain(self, text: str, *, min_probability: float = 0.25,
                per_label: int = 5) -> list[Span]:
        """The spans of ``text`` that raised its likely labels most."""

    def explain_many(self, texts: Sequence[str], *, min_probability: float = 0.25,
                     per_label: int = 5) -> list[list[Span]]:
        """``explain`` for several texts at once."""

    def known_word_share(self, text: str) -> tuple[float, int]:
        """The share of ``text``'s words the model knows, and how many words it has."""

    def warm_up(self) -> Any:
        """Fill the per-word caches before the first request."""

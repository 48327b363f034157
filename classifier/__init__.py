"""Comment classifier: normalisation, training, scoring, explanations and a model registry.

A plain Python package: it knows nothing of Flask or of the service that uses it. Its names
load with the module that defines them, on first use: the service's commands start without
importing scikit-learn, which takes a second, unless they train or score.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Eagerly: the function shares its module's name, which Python would otherwise bind here.
from classifier.normalize import normalize

_HOMES = {
    "LABELS": "shared", "CommentScore": "shared", "Span": "shared",
    "CommentClassifier": "model",
    "LoadedModel": "registry", "ModelNotFound": "registry", "ModelRegistry": "registry",
    "ModelRejected": "registry", "features_version_of": "registry",
    "Corpus": "training", "evaluate": "training", "example_weights": "training",
    "read_labeled_csv": "training", "seed_corpus": "training", "train": "training",
    "train_and_save": "training",
}
__all__ = sorted([*_HOMES, "normalize"])

if TYPE_CHECKING:
    from classifier.model import CommentClassifier
    from classifier.registry import (
        LoadedModel,
        ModelNotFound,
        ModelRegistry,
        ModelRejected,
        features_version_of,
    )
    from classifier.shared import LABELS, CommentScore, Span
    from classifier.training import (
        Corpus,
        evaluate,
        example_weights,
        read_labeled_csv,
        seed_corpus,
        train,
        train_and_save,
    )


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'classifier' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"classifier.{_HOMES[name]}"), name)
    globals()[name] = value
    return value

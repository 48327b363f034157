"""Comment classifier: normalisation, training, scoring, explanations and a model registry.

A plain Python package: it knows nothing of Flask or of the service that uses it.
"""

from classifier.model import LABELS, CommentClassifier, CommentScore, Span
from classifier.normalize import normalize
from classifier.registry import (LoadedModel, ModelNotFound, ModelRegistry, ModelRejected,
                                 features_version_of)
from classifier.training import (Corpus, evaluate, example_weights, read_labeled_csv, seed_corpus,
                                 train, train_and_save)

__all__ = [
    "LABELS", "CommentClassifier", "CommentScore", "Corpus", "LoadedModel", "ModelNotFound",
    "ModelRegistry", "ModelRejected", "Span", "evaluate", "example_weights", "normalize", "read_labeled_csv",
    "features_version_of", "seed_corpus", "train", "train_and_save",
]

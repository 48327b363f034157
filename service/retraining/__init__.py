"""Retraining: the store of labeled examples, imports, and training new model versions."""

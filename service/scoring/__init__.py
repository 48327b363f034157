"""Scoring: the active model, kept current without a restart, and the decision policy."""

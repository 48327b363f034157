"""Fixtures shared by the classifier's tests."""

"""Submission: host sites post comments, which are scored and decided at once."""

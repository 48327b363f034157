"""Comments and what they belong to (articles, authors), and the one place their status changes."""

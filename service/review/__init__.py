"""The moderators' side: review queues, claims, decisions, reader flags and the dashboard."""

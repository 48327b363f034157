"""An example host site for the comment-moderation service (see README.md)."""

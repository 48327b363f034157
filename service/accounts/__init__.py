"""Moderator and admin accounts: passwords, sessions, API tokens and which sites they see."""

"""Helpers for the privacy tests: a site that holds everything, and moderators' decisions."""

from __future__ import annotations

from tests.conftest import HOLD_ALL, make_site


def held_site(app, name: str):
    """A site that holds every comment, so each status comes from a person's decision."""
    return make_site(app, name, rules=HOLD_ALL)


def decide(client, account, comment_id: int, action: str, **extra) -> dict:
    response = client.post(f"/v1/moderation/comments/{comment_id}/decision",
                           json={"action": action, **extra}, headers=account.headers)
    assert response.status_code == 200, response.json
    return response.json

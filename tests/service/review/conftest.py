"""Sites whose every comment waits for review, and the people who work them."""

import pytest

from tests.conftest import HOLD_ALL, make_site, make_user


@pytest.fixture
def held_site(app):
    """A site that holds every comment (nothing scores below 0 or reaches 1)."""
    return make_site(app, "daily-bugle", rules=HOLD_ALL)


@pytest.fixture
def other_held_site(app):
    return make_site(app, "the-planet", rules=HOLD_ALL)


@pytest.fixture
def moderator(app, held_site):
    return make_user(app, "mary", "moderator", (held_site.name,))


@pytest.fixture
def second_moderator(app, held_site):
    return make_user(app, "max", "moderator", (held_site.name,))


@pytest.fixture
def admin(app):
    return make_user(app, "ada", "admin")

"""A seeded world for the security tests, one per module and database: two sites with
comments in every state, a moderator, an admin, and a private copy of the model registry
(the fuzzer may promote or roll back, which must not move the shared registry's pointer)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import pytest

from service.comments.models import Comment
from service.container import services
from service.extensions import db
from service.retraining.models import JobKind, TrainingExample
from tests.conftest import DATABASES, Account, SiteKey, fresh_app, make_site, make_user, submit

CLEAN = "Thanks for the clear explanation of the new bus timetable."
ABUSIVE = "You pathetic idiot, I will find you and kill you."
FOREIGN = "Das ist ein sehr guter Artikel über die neue Straßenbahn in unserer Stadt."


@pytest.fixture(scope="module", params=DATABASES)
def shared_app(request, model_dir, tmp_path_factory):
    """One app and database for a whole module, for tests that add to what is there (the
    fuzzer) or must change nothing (hostile input, isolation): seeding a world per test
    would cost more than the test."""
    instance = tmp_path_factory.mktemp("shared")
    shutil.copytree(model_dir, instance / "models")
    url = (f"sqlite:///{instance / 'test.db'}" if request.param == "sqlite"
           else os.environ["TEST_DATABASE_URL"])
    with fresh_app({"APP_ENV": "testing", "DATABASE_URL": url,
                    "MODEL_DIR": str(instance / "models"), "INSTANCE_PATH": str(instance),
                    "SECRET_KEY": "test-secret-key-not-for-production"}) as app:
        yield app


@pytest.fixture(scope="module")
def shared_world(shared_app) -> World:
    return seed_world(shared_app, shared_app.test_client())


@dataclass
class World:
    """What the seeded database holds, by role."""

    site: SiteKey
    other_site: SiteKey
    moderator: Account
    admin: Account
    comments: dict[str, int]        # status (or "reply", "restored") -> a comment of `site`
    other_comments: dict[str, int]  # the same for `other_site` (its "restored" is rejected)
    author_id: int                  # the service's id of an author of `site`
    other_author_id: int
    version: str                    # the active model version
    job_id: int                     # a queued training job
    example_id: int                 # a training example (a moderator's decision)
    article_id: int = 0             # the service's id of an article of `site`

    def headers_for(self, path: str) -> dict[str, str]:
        """The credentials an operation's security scheme asks for."""
        if path.startswith(("/v1/moderation/", "/v1/admin/")):
            return self.admin.headers
        return self.site.headers


def _seed_site(app, client, site: SiteKey, prefix: str) -> tuple[dict[str, int], int]:
    approved = submit(client, site, CLEAN, article=f"{prefix}-1", author=f"{prefix}-reader")
    rejected = submit(client, site, ABUSIVE, article=f"{prefix}-1", author=f"{prefix}-troll")
    held = submit(client, site, FOREIGN, article=f"{prefix}-2", author=f"{prefix}-reader")
    restored = submit(client, site, ABUSIVE + " Again.", article=f"{prefix}-1",
                      author=f"{prefix}-troll")
    reply = submit(client, site, CLEAN + " Agreed.", article=f"{prefix}-1",
                   author=f"{prefix}-other", parent_id=approved["id"])
    assert (approved["status"], rejected["status"], held["status"]) == (
        "approved", "rejected", "pending_review")
    with app.app_context():
        author_id = db.session.get(Comment, approved["id"]).author_id
    return ({"approved": approved["id"], "rejected": rejected["id"],
             "pending_review": held["id"], "reply": reply["id"], "restored": restored["id"]},
            author_id)


def seed_world(app, client) -> World:
    """Two sites, each with an approved, a rejected, a held, a restored comment and a reply;
    a moderator of the first site, an admin, a queued job and a training example."""
    site = make_site(app, "daily-bugle")
    other = make_site(app, "the-planet")
    comments, author_id = _seed_site(app, client, site, "bugle")
    other_comments, other_author_id = _seed_site(app, client, other, "planet")
    admin = make_user(app, "ada", "admin")
    decided = client.post(f"/v1/moderation/comments/{comments['restored']}/decision",
                          json={"action": "restore"}, headers=admin.headers)
    assert decided.status_code == 200, decided.json
    with app.app_context():
        version = services(app).scoring.registry.active_version()
        job = services(app).jobs.enqueue(JobKind.RESCORE, requested_by="ada")
        example_id = db.session.scalar(db.select(TrainingExample.id).limit(1))
        article_id = db.session.get(Comment, comments["approved"]).article_id
        job_id = job.id
    return World(site=site, other_site=other,
                 moderator=make_user(app, "mary", "moderator", (site.name,)),
                 admin=admin, job_id=job_id, example_id=example_id,
                 comments=comments, other_comments=other_comments, author_id=author_id,
                 other_author_id=other_author_id, version=version, article_id=article_id)

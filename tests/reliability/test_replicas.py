"""Two web replicas and two delivery workers as separate processes, each with an instance
folder and a model cache of its own (no file in common), against one PostgreSQL and one
Redis, as a deployment on several hosts runs them (MODEL_STORE=database).

Submissions go through both replicas; an author's rate limit is counted across both; every
webhook is applied exactly once; a promotion is served by both; one replica is killed and
the other still serves. Loopback only, bounded in requests and time.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest
import requests

from service import create_app
from service.container import services
from service.extensions import db
from service.sites.models import Site
from tests.conftest import make_site
from tests.reliability.conftest import kill, service_env, wait_until

REDIS_URL = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
COMMENTS = 30


@pytest.fixture
def redis_url() -> str:
    import redis
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis at {REDIS_URL} is not reachable ({error}): replicas share their "
                    "rate-limit counters there")
    return REDIS_URL


def test_two_replicas_and_two_workers_share_only_the_database_and_redis(
        shared_postgres_url, redis_url, gunicorn, delivery_workers, receiver, seed_model,
        tmp_path):
    prefix = f"replicas-{uuid.uuid4().hex[:8]}"

    def env_of(name: str) -> dict[str, str]:
        folder = tmp_path / name
        folder.mkdir()
        return {**service_env(shared_postgres_url, folder / "models", folder),
                "MODEL_STORE": "database", "REDIS_URL": redis_url, "RATE_LIMITS": "1",
                "RATE_LIMIT_KEY_PREFIX": prefix, "RATE_LIMIT_AUTHOR": "3/hour",
                "RATE_LIMIT_SUBMISSIONS": "10000/minute"}

    admin = create_app(env_of("admin"))  # an admin's shell: set-up and promotions
    with admin.app_context():
        db.create_all()
        registry = services(admin).scoring.registry
        first = registry.save(seed_model.model, {"training_data": {"source": "test"}})
        registry.activate(first)
    site = make_site(admin, "replicated", webhook_url=receiver.url)
    with admin.app_context():
        receiver.secret = db.session.get(Site, site.id).webhook_secret
        db.session.remove()

    replicas = [gunicorn(env_of(name)) for name in ("web-1", "web-2")]
    for name in ("worker-1", "worker-2"):
        delivery_workers(env_of(name), name, "--poll-seconds", "0.1")

    def submit(replica, number: int, author: str | None = None):
        return requests.post(f"{replica.base}/v1/comments", headers=site.headers, timeout=30,
                             json={"article_id": "replicated", "text":
                                   f"Comment {number}: the new library opening hours suit me.",
                                   "author": {"id": author or f"reader-{number}"}})

    ids = []
    for number in range(COMMENTS):
        answer = submit(replicas[number % 2], number)
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    assert len(set(ids)) == COMMENTS

    # Each event applied exactly once, whichever worker delivered it.
    wait_until(lambda: len(receiver.applied) >= COMMENTS, 60,
               lambda: f"{len(receiver.applied)} of {COMMENTS} applied\n"
                       + delivery_workers.logs())
    applied = sorted(payload["data"]["id"] for payload in receiver.applied.values())
    assert applied == sorted(ids) and receiver.bad_signatures == 0
    assert not receiver.duplicates

    # One author's budget (3 an hour) is counted across both replicas.
    statuses = [submit(replicas[n % 2], 1000 + n, author="one-reader").status_code
                for n in range(4)]
    assert statuses == [201, 201, 201, 429]

    # A promotion (here, the same model saved again as a new version) reaches both.
    def versions_served() -> set[str]:
        return {requests.post(f"{replica.base}/v1/score", headers=site.headers, timeout=30,
                              json={"text": "A question about the bus timetable."})
                .json()["model_version"] for replica in replicas}

    assert versions_served() == {first}
    with admin.app_context():
        second = registry.save(seed_model.model, {"training_data": {"source": "test"}})
        registry.activate(second)
    promoted = time.monotonic()
    # A guard against a hang, not a speed check: each replica looks every 2 s.
    wait_until(lambda: versions_served() == {second}, 30,
               lambda: f"served {versions_served()} 30 s after promoting {second}")
    print(f"promotion served by both replicas after {time.monotonic() - promoted:.1f} s")
    for name in ("web-1", "web-2"):  # each fetched both into its own cache
        assert {first, second} <= set(os.listdir(tmp_path / name / "models"))

    # One replica dies; the other goes on serving.
    for pid in [*replicas[0].workers(), replicas[0].process.pid]:
        kill(pid)
    wait_until(lambda: replicas[0].process.poll() is not None, 30,
               lambda: "the killed replica's master is still there")
    answer = submit(replicas[1], 2000)
    assert answer.status_code == 201, answer.text
    with pytest.raises(requests.ConnectionError):
        submit(replicas[0], 2001)

"""Rate limits on the host-site API, counted in memory and in Redis."""

from __future__ import annotations

import os
import uuid

import pytest

from service import create_app
from service.config import ConfigError, Settings
from tests.conftest import csrf_token_of, make_site, make_user, submit

REDIS_URL = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["memory", "redis"])
def storage(request) -> str | None:
    """None for each process's memory, or the URL of a Redis that answers."""
    if request.param == "memory":
        return None
    import redis
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis at {REDIS_URL} is not reachable ({error}); start it, or set "
                    "TEST_REDIS_URL, to test the shared counters")
    return REDIS_URL


@pytest.fixture
def prefix(storage):
    """A key prefix of this test's own, so tests sharing a Redis never count together."""
    prefix = f"test-{uuid.uuid4().hex}"
    yield prefix
    if storage is not None:
        import redis
        client = redis.Redis.from_url(storage)
        keys = list(client.scan_iter(match=f"*{prefix}*"))
        if keys:
            client.delete(*keys)


@pytest.fixture
def app_config(app_config, storage, prefix):
    return {**app_config, "RATE_LIMITS": "1", "REDIS_URL": storage or "",
            "RATE_LIMIT_KEY_PREFIX": prefix, "RATE_LIMIT_SUBMISSIONS": "5/hour",
            "RATE_LIMIT_AUTHOR": "2/hour", "RATE_LIMIT_FLAGS": "3/hour",
            "RATE_LIMIT_READS": "4/hour", "RATE_LIMIT_SIGN_IN": "3/hour"}


def post(client, site, author: str, text: str = "A fair point about the harbour plans."):
    return client.post("/v1/comments", headers=site.headers, json={
        "article_id": "a-1", "author": {"id": author}, "text": text})


def assert_too_many(response, about: str) -> None:
    assert response.status_code == 429, response.get_data(as_text=True)
    body = response.json
    assert body["code"] == 429 and body["status"] == "Too Many Requests"
    assert about in body["message"]
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert 1 <= int(response.headers["Retry-After"]) <= 3600


def test_a_site_over_its_submission_budget_gets_429_with_retry_after(client, site, other_site):
    for number in range(5):
        assert post(client, site, f"reader-{number}").status_code == 201
    assert_too_many(post(client, site, "reader-9"), "this site's comments and scoring")
    # Scoring draws on the same budget; another site keeps its own.
    assert_too_many(client.post("/v1/score", headers=site.headers, json={"text": "Hello"}),
                    "this site's comments and scoring")
    assert post(client, other_site, "reader-9").status_code == 201


def test_a_scoring_batch_counts_each_of_its_texts(client, site, other_site):
    # 5 an hour: a batch of 3 takes 3, another of 3 would pass the budget and is refused,
    # and so is the next comment; another site keeps its own.
    batch = {"texts": ["One.", "Two.", "Three."]}
    assert client.post("/v1/score/batch", headers=site.headers, json=batch).status_code == 200
    assert_too_many(client.post("/v1/score/batch", headers=site.headers, json=batch),
                    "this site's comments and scoring")
    assert post(client, site, "reader-1").status_code == 201  # 4 of 5
    assert post(client, site, "reader-2").status_code == 201  # 5 of 5
    assert_too_many(post(client, site, "reader-3"), "this site's comments and scoring")
    assert client.post("/v1/score/batch", headers=other_site.headers,
                       json=batch).status_code == 200


def test_one_author_cannot_use_up_the_site_budget(client, site, other_site):
    assert post(client, site, "troll").status_code == 201
    assert post(client, site, "troll").status_code == 201
    for _ in range(3):
        assert_too_many(post(client, site, "troll"), "comments by this author")
    # The refused comments cost the site nothing: its other readers still have 3 of 5.
    for number in range(3):
        assert post(client, site, f"reader-{number}").status_code == 201
    assert_too_many(post(client, site, "reader-9"), "this site's comments and scoring")
    # The same author id on another site is another person.
    assert post(client, other_site, "troll").status_code == 201


def test_reads_and_flags_have_budgets_of_their_own(client, site):
    comment = submit(client, site, "A fair point about the harbour plans.")
    for number in range(3):
        response = client.post(f"/v1/comments/{comment['id']}/flags", headers=site.headers,
                               json={"reason": "spam", "reporter_id": f"r{number}"})
        assert response.status_code in (200, 201, 409), response.json
    assert_too_many(client.post(f"/v1/comments/{comment['id']}/flags", headers=site.headers,
                                json={"reason": "spam", "reporter_id": "r9"}),
                    "this site's reader flags")
    for _ in range(4):
        assert client.get(f"/v1/comments/{comment['id']}", headers=site.headers).status_code == 200
    assert_too_many(client.get("/v1/events", headers=site.headers), "this site's reads")
    assert post(client, site, "reader-2").status_code == 201  # submissions: 2 of 5 used


@pytest.mark.parametrize("storage", ["memory"], indirect=True)
def test_health_checks_bad_keys_and_moderators_are_not_limited(client, site):
    for _ in range(8):
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code in (200, 503)
        assert client.get("/v1/events",
                          headers={"Authorization": "Bearer mk_nope_nope"}).status_code == 401
        assert client.get("/v1/moderation/queue").status_code == 401


def test_sign_in_attempts_are_limited_per_client_address(app, client):
    """Each attempt costs a password check: one address gets 3 an hour here, whichever
    usernames it tries (the per-account back-off alone would let it try a new name each
    time); another address still gets its own."""
    make_user(app, "desk", password="a long enough password")
    token = csrf_token_of(client.get("/login").get_data(as_text=True))

    def attempt(username: str, address: str):
        return client.post("/login", environ_base={"REMOTE_ADDR": address}, data={
            "username": username, "password": "wrong password here", "csrf_token": token})

    assert [attempt(f"guess-{n}", "203.0.113.7").status_code for n in range(3)] == [401] * 3
    refused = attempt("desk", "203.0.113.7")
    assert refused.status_code == 429 and refused.mimetype == "text/plain"
    assert "sign-in attempts from one address" in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0
    assert attempt("desk", "198.51.100.4").status_code == 401
    assert all(client.get("/login").status_code == 200 for _ in range(5))  # pages are free


def test_counters_are_kept_by_site_id_never_by_key(app, client, site, storage, prefix):
    assert post(client, site, "reader-1").status_code == 201
    limiter = app.extensions["moderation.limiter"]
    if storage is None:
        keys = [str(key) for key in limiter.storage.storage]
    else:
        import redis
        keys = [key.decode() for key in redis.Redis.from_url(storage).scan_iter(f"*{prefix}*")]
    assert any(f"site:{site.id}/" in key for key in keys), keys
    assert any(f"site:{site.id}:author:" in key for key in keys), keys
    secret = site.api_key.split("_", 2)[2]
    assert not any(secret in key or "reader-1" in key for key in keys), keys


def test_redis_counts_for_every_process_memory_for_its_own(app_config, storage):
    """Two app instances stand in for two gunicorn workers."""
    first, second = create_app(app_config), create_app(app_config)
    from service.extensions import db
    with first.app_context():
        db.create_all()
    try:
        site = make_site(first, "bugle")
        codes = [post(app.test_client(), site, "reader-1").status_code
                 for app in (first, second, first, second)]
        # The author may send 2 an hour: in Redis, 2 in all; in memory, 2 per process.
        assert codes == ([201, 201, 429, 429] if storage else [201, 201, 201, 201])
    finally:
        with first.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()
        with second.app_context():
            db.engine.dispose()


def test_limits_are_on_in_production_and_checked_at_start(tmp_path):
    base = {"SECRET_KEY": "x" * 32}
    production = Settings.from_env({**base, "APP_ENV": "production"}, tmp_path)
    assert production.rate_limits is not None
    assert production.rate_limits.submissions == "600/minute"
    assert production.rate_limits.author == "10/minute"
    assert Settings.from_env({**base, "APP_ENV": "development"}, tmp_path).rate_limits is None
    assert Settings.from_env({**base, "APP_ENV": "production", "RATE_LIMITS": "0"},
                             tmp_path).rate_limits is None
    with pytest.raises(ConfigError, match="RATE_LIMIT_AUTHOR"):
        Settings.from_env({**base, "APP_ENV": "production", "RATE_LIMIT_AUTHOR": "lots"},
                          tmp_path)
    with pytest.raises(ConfigError, match="REDIS_URL") as refused:
        Settings.from_env({**base, "REDIS_URL": "http://user:hunter2@cache:6379"}, tmp_path)
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize("storage", ["memory"], indirect=True)
def test_a_redis_that_does_not_answer_leaves_each_process_counting(app_config):
    from service.extensions import db
    app = create_app({**app_config, "REDIS_URL": "redis://127.0.0.1:1/0"})  # nothing listens
    with app.app_context():
        db.create_all()
    try:
        site = make_site(app, "bugle")
        codes = [post(app.test_client(), site, "reader-1").status_code for _ in range(3)]
        assert codes == [201, 201, 429]
    finally:
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()

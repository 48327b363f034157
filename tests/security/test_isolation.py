"""Tenant isolation and roles on every /v1 route, and security headers on every kind of answer.

Another site's rows do not exist for a site (404, never 403, so existence does not leak); a
moderator sees only the sites assigned to them (404 for the rest) and never /v1/admin (403);
every route refuses a missing or wrong kind of credential (401). ROUTES names the check of
each /v1 route, and the first test fails when a route is added without one.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from service.container import services
from tests.security.conftest import CLEAN, World


@pytest.fixture
def client(shared_app):
    return shared_app.test_client()


def assert_error(response, code: int) -> dict:
    assert response.status_code == code, (response.status_code, response.get_data(as_text=True))
    body = response.json
    assert body["code"] == code and body["message"], body
    return body


def same_answer(a, b, *ids) -> None:
    """Two answers alike but for the ids they name: neither tells the caller more."""
    def scrub(response):
        text = response.get_data(as_text=True)
        text = re.sub(r'"request_id":\s*"[0-9a-f]+"', "", text)
        for value in ids:
            text = re.sub(rf"\b{re.escape(str(value))}\b", "<id>", text)
        return response.status_code, text
    assert scrub(a) == scrub(b)


def moderation_view(app, world: World, comment_id: int) -> dict:
    """What an admin sees of a comment: to check an attempt changed nothing."""
    response = app.test_client().get(f"/v1/moderation/comments/{comment_id}",
                                     headers=world.admin.headers)
    comment = response.json["comment"]
    return {key: comment[key] for key in ("status", "flag_count", "text", "updated_at")}


NOT_THERE = 2**62  # an id no row has


# --- Host-site routes: the other site's key against this site's rows ------------------------

def comment_by_id(app, client, world: World) -> None:
    mine = world.comments["approved"]
    theirs = client.get(f"/v1/comments/{mine}", headers=world.other_site.headers)
    assert_error(theirs, 404)
    same_answer(theirs, client.get(f"/v1/comments/{NOT_THERE}",
                                   headers=world.other_site.headers), mine, NOT_THERE)


def flag(app, client, world: World) -> None:
    mine = world.comments["approved"]
    before = moderation_view(app, world, mine)
    for reporter in ("r1", "r2", "r3", "r4"):  # enough to report it, were they counted
        response = client.post(f"/v1/comments/{mine}/flags", headers=world.other_site.headers,
                               json={"reason": "spam", "reporter_id": reporter})
        assert_error(response, 404)
    absent = client.post(f"/v1/comments/{NOT_THERE}/flags", headers=world.other_site.headers,
                         json={"reason": "spam", "reporter_id": "r1"})
    same_answer(response, absent, mine, NOT_THERE)
    assert moderation_view(app, world, mine) == before


def submit(app, client, world: World) -> None:
    """A reply to another site's comment is refused as if it did not exist, and a client_id
    another site used is not theirs: it neither replays nor conflicts."""
    mine = world.comments["approved"]
    body = {"article_id": "bugle-1", "author": {"id": "x"}, "text": CLEAN}
    reply = client.post("/v1/comments", headers=world.other_site.headers,
                        json={**body, "parent_id": mine})
    assert_error(reply, 422)
    absent = client.post("/v1/comments", headers=world.other_site.headers,
                         json={**body, "parent_id": NOT_THERE})
    same_answer(reply, absent, mine, NOT_THERE)
    client_id = "isolation-client-id"
    first = client.post("/v1/comments", headers=world.site.headers,
                        json={**body, "client_id": client_id})
    assert first.status_code in (200, 201)
    same_client_id = client.post("/v1/comments", headers=world.other_site.headers,
                                 json={**body, "client_id": client_id})
    assert same_client_id.status_code == 201, same_client_id.json
    assert same_client_id.json["id"] != first.json["id"]


def article_comments(app, client, world: World) -> None:
    theirs = client.get("/v1/articles/bugle-1/comments", headers=world.other_site.headers)
    never = client.get("/v1/articles/never-used/comments", headers=world.other_site.headers)
    assert theirs.status_code == 200 and theirs.json["threads"] == []
    same_answer(theirs, never, "bugle-1", "never-used")
    assert client.get("/v1/articles/bugle-1/comments",
                      headers=world.site.headers).json["threads"]  # it is there for its site


def events(app, client, world: World) -> None:
    mine = set(world.comments.values())
    feed = client.get("/v1/events", query_string={"limit": 200},
                      headers=world.other_site.headers).json
    assert feed["items"] and not {item["data"]["id"] for item in feed["items"]} & mine
    own = client.get("/v1/events", query_string={"limit": 200}, headers=world.site.headers).json
    assert {item["data"]["id"] for item in own["items"]} <= mine | _later_comments(app, world)


def _later_comments(app, world: World) -> set[int]:
    from sqlalchemy import select

    from service.comments.models import Comment
    from service.extensions import db
    with app.app_context():
        return set(db.session.scalars(select(Comment.id).where(Comment.site_id == world.site.id)))


def erase_author(app, client, world: World) -> None:
    mine = world.comments["approved"]
    before = moderation_view(app, world, mine)
    theirs = client.delete("/v1/authors/bugle-reader", headers=world.other_site.headers)
    assert_error(theirs, 404)
    same_answer(theirs, client.delete("/v1/authors/nobody-at-all",
                                      headers=world.other_site.headers))
    assert moderation_view(app, world, mine) == before


def stateless(app, client, world: World) -> None:
    """Scoring stores nothing and reads nothing of any site's: only the key matters."""


# --- Moderation routes: a moderator of the first site against the second site's rows --------

def _mod(client, world: World, method: str, path: str, **kwargs):
    return client.open(path, method=method, headers=world.moderator.headers, **kwargs)


def _item_404(method: str, suffix: str, body: dict | None = None) -> Callable:
    def check(app, client, world: World) -> None:
        theirs = world.other_comments["pending_review"]
        before = moderation_view(app, world, theirs)
        response = _mod(client, world, method, f"/v1/moderation/comments/{theirs}{suffix}",
                        json=body)
        assert_error(response, 404)
        absent = _mod(client, world, method, f"/v1/moderation/comments/{NOT_THERE}{suffix}",
                      json=body)
        same_answer(response, absent, theirs, NOT_THERE)
        assert moderation_view(app, world, theirs) == before
        mine = world.comments["pending_review"]  # the moderator does reach their own site
        assert _mod(client, world, "GET", f"/v1/moderation/comments/{mine}").status_code == 200
    return check


def queue(app, client, world: World) -> None:
    listed = _mod(client, world, "GET", "/v1/moderation/queue?queue=approved&limit=200").json
    theirs = set(world.other_comments.values())
    assert listed["items"] and not {item["id"] for item in listed["items"]} & theirs
    assert_error(_mod(client, world, "GET", "/v1/moderation/queue?site=the-planet"), 404)
    same_answer(_mod(client, world, "GET", "/v1/moderation/queue?site=the-planet"),
                _mod(client, world, "GET", "/v1/moderation/queue?site=no-such-site"),
                "the-planet", "no-such-site")


def bulk(app, client, world: World) -> None:
    theirs = world.other_comments["pending_review"]
    before = moderation_view(app, world, theirs)
    result = _mod(client, world, "POST", "/v1/moderation/decisions",
                  json={"ids": [theirs, NOT_THERE], "action": "approve"}).json
    assert result["decided"] == []
    assert result["failed"][str(theirs)].replace(str(theirs), "<id>") \
        == result["failed"][str(NOT_THERE)].replace(str(NOT_THERE), "<id>")
    assert moderation_view(app, world, theirs) == before


def standing(app, client, world: World) -> None:
    response = _mod(client, world, "POST",
                    f"/v1/moderation/authors/{world.other_author_id}/standing",
                    json={"standing": "banned"})
    assert_error(response, 404)
    same_answer(response, _mod(client, world, "POST", f"/v1/moderation/authors/{NOT_THERE}/"
                                                      "standing", json={"standing": "banned"}),
                world.other_author_id, NOT_THERE)
    # Their comments still publish: the author was not banned.
    later = app.test_client().post("/v1/comments", headers=world.other_site.headers, json={
        "article_id": "planet-1", "author": {"id": "planet-reader"}, "text": CLEAN})
    assert later.json["status"] == "approved"


def articles(app, client, world: World) -> None:
    listed = _mod(client, world, "GET", "/v1/moderation/articles?limit=200").json["items"]
    assert listed and all(item["site"] == world.site.name for item in listed)
    assert _mod(client, world, "GET", "/v1/moderation/articles?site=the-planet"
                ).json["items"] == []


def article_closed(app, client, world: World) -> None:
    from sqlalchemy import select

    from service.comments.models import Article
    from service.extensions import db
    with app.app_context():
        theirs = db.session.scalar(select(Article.id).where(
            Article.site_id != world.site.id).limit(1))
    response = _mod(client, world, "PUT", f"/v1/moderation/articles/{theirs}/closed",
                    json={"closed": True})
    assert_error(response, 404)
    same_answer(response, _mod(client, world, "PUT", f"/v1/moderation/articles/{NOT_THERE}/"
                                                      "closed", json={"closed": True}),
                theirs, NOT_THERE)
    later = app.test_client().post("/v1/comments", headers=world.other_site.headers, json={
        "article_id": "planet-1", "author": {"id": "planet-reader"}, "text": CLEAN})
    assert later.status_code in (200, 201)  # their article is still open


def suggestion(app, client, world: World) -> None:
    """A suggestion replaces the earlier example of the same clientToken: of its own site
    only, never another site's with the same token."""
    from sqlalchemy import select

    from service.extensions import db
    from service.retraining.models import TrainingExample

    def suggest(site, text: str):
        response = client.post("/v1alpha1/comments:suggestscore", headers=site.headers, json={
            "comment": {"text": text}, "clientToken": "comment:shared-token",
            "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0}}}})
        assert response.status_code == 200, response.json

    suggest(world.site, "The bugle's reader on the tram timetable.")
    suggest(world.other_site, "The planet's reader on the ferry timetable.")
    with app.app_context():
        db.session.remove()
        kept = db.session.execute(select(TrainingExample.site_id, TrainingExample.text).where(
            TrainingExample.client_token == "comment:shared-token")).all()
    assert sorted(kept) == sorted([
        (world.site.id, "The bugle's reader on the tram timetable."),
        (world.other_site.id, "The planet's reader on the ferry timetable.")])


ADMIN = "admin"  # every method: a moderator 403, a site key 401, and nothing changes

ROUTES: dict[tuple[str, str], Callable | str] = {
    ("POST", "/v1/comments"): submit,
    ("GET", "/v1/comments/<int:comment_id>"): comment_by_id,
    ("POST", "/v1/comments/<int:comment_id>/flags"): flag,
    ("POST", "/v1/score"): stateless,
    ("POST", "/v1/score/batch"): stateless,
    ("POST", "/v1alpha1/comments:analyze"): stateless,
    ("POST", "/v1alpha1/comments:suggestscore"): suggestion,
    ("POST", "/v1/moderations"): stateless,
    ("GET", "/v1/articles/<path:article_id>/comments"): article_comments,
    ("GET", "/v1/events"): events,
    ("DELETE", "/v1/authors/<path:author_id>"): erase_author,
    ("GET", "/v1/moderation/queue"): queue,
    ("GET", "/v1/moderation/comments/<int:comment_id>"): _item_404("GET", ""),
    ("GET", "/v1/moderation/comments/<int:comment_id>/audit"): _item_404("GET", "/audit"),
    ("POST", "/v1/moderation/comments/<int:comment_id>/claim"): _item_404("POST", "/claim"),
    ("POST", "/v1/moderation/comments/<int:comment_id>/decision"):
        _item_404("POST", "/decision", {"action": "approve"}),
    ("POST", "/v1/moderation/decisions"): bulk,
    ("POST", "/v1/moderation/authors/<int:author_id>/standing"): standing,
    ("POST", "/v1/moderation/comments/<int:comment_id>/undo"): _item_404("POST", "/undo"),
    ("PUT", "/v1/moderation/comments/<int:comment_id>/featured"):
        _item_404("PUT", "/featured", {"featured": True}),
    ("GET", "/v1/moderation/articles"): articles,
    ("PUT", "/v1/moderation/articles/<int:article_id>/closed"): article_closed,
    **{(method, f"/v1/admin/{path}"): ADMIN for method, path in [
        ("GET", "models"), ("POST", "models"), ("POST", "models/rollback"),
        ("GET", "models/<version>"), ("POST", "models/<version>/promote"), ("GET", "jobs"),
        ("GET", "jobs/<int:job_id>"), ("POST", "jobs/<int:job_id>/cancel"), ("GET", "shadow"),
        ("POST", "shadow"), ("DELETE", "shadow"), ("GET", "examples"),
        ("PATCH", "examples/<int:example_id>"), ("POST", "thresholds/proposals"),
        ("PUT", "sites/<name>/thresholds"), ("GET", "sites/<name>/policy"),
        ("PUT", "sites/<name>/policy")]},
}
SITE_ROUTES = {key for key, check in ROUTES.items() if not key[1].startswith(
    ("/v1/moderation/", "/v1/admin/"))}


def v1_routes(app) -> set[tuple[str, str]]:
    return {(method, rule.rule) for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/v1") for method in rule.methods - {"HEAD", "OPTIONS"}}


def concrete(rule: str, world: World) -> str:
    """The rule with the first site's rows (the admin routes' are real, to be sure a 403 is
    not a 404 in disguise)."""
    fill = {"<int:comment_id>": world.comments["pending_review"],
            "<int:author_id>": world.author_id, "<path:article_id>": "bugle-1",
            "<path:author_id>": "bugle-reader", "<version>": world.version,
            "<int:job_id>": world.job_id, "<int:example_id>": world.example_id,
            "<name>": world.site.name, "<int:article_id>": world.article_id}
    for placeholder, value in fill.items():
        rule = rule.replace(placeholder, str(value))
    assert "<" not in rule, f"no value for a parameter of {rule}: add it to concrete()"
    return rule


def test_every_v1_route_has_an_isolation_check(shared_app):
    routes = v1_routes(shared_app)
    assert not routes - set(ROUTES), (
        f"{sorted(routes - set(ROUTES))}: say in ROUTES how another site (or a moderator of "
        "another site, or a moderator on an admin route) is kept out")
    assert set(ROUTES) <= routes, sorted(set(ROUTES) - routes)


@pytest.mark.parametrize("route", sorted(key for key, check in ROUTES.items() if check != ADMIN),
                         ids=" ".join)
def test_another_site_cannot_read_or_change_this_sites_rows(shared_app, shared_world, client,
                                                             route):
    ROUTES[route](shared_app, client, shared_world)


def admin_state(app) -> tuple:
    from sqlalchemy import func, select

    from service.extensions import db
    from service.retraining.models import TrainingJob
    with app.app_context():
        jobs = db.session.execute(select(TrainingJob.id, TrainingJob.status)).all()
        sites = services(app).sites
        thresholds = sites.policy(sites.get("daily-bugle")).as_json()
        version = services(app).scoring.registry.active_version()
        from service.retraining.models import TrainingExample
        examples = db.session.scalar(select(func.count()).select_from(TrainingExample))
        return sorted(jobs), thresholds, version, examples


def test_moderators_cannot_reach_the_admin_api(shared_app, shared_world, client):
    """Refused before the body is read, so the body does not matter; nothing changes."""
    before = admin_state(shared_app)
    for method, rule in sorted(key for key, check in ROUTES.items() if check == ADMIN):
        path = concrete(rule, shared_world)
        response = client.open(path, method=method, json=None if method == "GET" else {},
                               headers=shared_world.moderator.headers)
        assert "admin" in assert_error(response, 403)["message"], path
        if method == "GET":  # an admin is served: the 403 is about the role
            served = client.get(path, headers=shared_world.admin.headers)
            assert served.status_code in (200, 404), (path, served.json)
    assert admin_state(shared_app) == before


def test_every_v1_route_refuses_a_missing_or_wrong_credential(shared_app, shared_world, client):
    """401 for no credential, a site's key where a person's token is needed, or a token where
    a site's key is; checked before anything else, so it tells nothing about the rows."""
    world = shared_world
    for method, rule in sorted(ROUTES):
        path = concrete(rule, world)
        wrong = world.admin.headers if (method, rule) in SITE_ROUTES else world.site.headers
        for headers in ({}, wrong, {"Authorization": "Bearer mk_nope_" + "x" * 40},
                        {"Authorization": "Bearer mt_nope_" + "x" * 40}):
            response = client.open(path, method=method, json={}, headers=headers)
            assert response.headers["WWW-Authenticate"].startswith("Bearer"), path
            if rule.startswith("/v1alpha1/"):  # as Google answers an unknown key
                assert response.status_code == 400, path
                assert response.json["error"]["message"].startswith("API key not valid")
            elif rule == "/v1/moderations":  # as OpenAI answers one
                assert response.status_code == 401, path
                assert response.json["error"]["code"] == "invalid_api_key"
            else:
                assert_error(response, 401)


# --- Security headers --------------------------------------------------------------------

def assert_security_headers(response, where: str) -> None:
    headers = response.headers
    policy = headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, where
    assert re.search(r"script-src 'self'(;|$)", policy), (where, policy)
    assert "object-src 'none'" in policy, where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("Referrer-Policy") in ("same-origin", "no-referrer",
                                              "strict-origin-when-cross-origin"), where


def test_every_kind_of_answer_carries_the_security_headers(app):
    from tests.conftest import make_site, make_user, sign_in
    client = app.test_client()
    site = make_site(app, "headers-site")
    moderator = make_user(app, "hal", "moderator", (site.name,))
    created = client.post("/v1/comments", headers=site.headers, json={
        "article_id": "h-1", "author": {"id": "r"}, "text": CLEAN})
    etag = client.get("/v1/articles/h-1/comments", headers=site.headers).headers["ETag"]
    answers = {
        "JSON 201": created,
        "JSON 200": client.get(f"/v1/comments/{created.json['id']}", headers=site.headers),
        "304": client.get("/v1/articles/h-1/comments", headers={**site.headers,
                                                                "If-None-Match": etag}),
        "JSON 401": client.get("/v1/events"),
        "JSON 404": client.get("/v1/comments/999999", headers=site.headers),
        "JSON 404 unknown route": client.get("/v1/nothing"),
        "JSON 405": client.delete("/v1/comments", headers=site.headers),
        "JSON 413": client.post("/v1/score", data="x" * 70_000, headers=site.headers,
                                content_type="application/json"),
        "JSON 415": client.post("/v1/score", data="x", headers=site.headers,
                                content_type="text/plain"),
        "JSON 422": client.post("/v1/score", json={}, headers=site.headers),
        "JSON 403": client.get("/v1/admin/models", headers=moderator.headers),
        "openapi.json": client.get("/openapi.json"),
        "healthz": client.get("/healthz"),
        "readyz": client.get("/readyz"),
        "docs": client.get("/docs"),
        "HTML login": client.get("/login"),
        "HTML redirect": client.get("/moderation/"),
        "static": client.get("/static/" + _a_static_file(app)),
    }
    sign_in(client, moderator)
    answers["HTML queue"] = client.get("/moderation/")
    answers["HTML 404"] = client.get("/moderation/comments/999999")
    answers["HTML 403"] = client.get("/moderation/deliveries")
    answers["HTML 400 (no CSRF token)"] = client.post("/moderation/bulk", data={"ids": "1"})
    for where, response in answers.items():
        assert response.status_code < 500, where
        assert_security_headers(response, where)
    assert answers["HTML 404"].status_code == 404 and answers["HTML 403"].status_code == 403


def test_server_errors_carry_the_security_headers_too(app_config, tmp_path):
    """With no model yet the service answers 503: its JSON and readiness errors too."""
    from service import create_app
    from service.extensions import db
    from tests.conftest import make_site
    empty = tmp_path / "no-models"
    empty.mkdir()
    app = create_app({**app_config, "MODEL_DIR": str(empty)})
    with app.app_context():
        db.drop_all()
        db.create_all()
    try:
        site = make_site(app, "no-model-site")
        client = app.test_client()
        for response in (client.post("/v1/score", json={"text": "hi"}, headers=site.headers),
                         client.get("/readyz")):
            assert response.status_code == 503
            assert_security_headers(response, response.request.path)
    finally:
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


def _a_static_file(app) -> str:
    from pathlib import Path
    folder = Path(app.static_folder)
    return next(path for path in sorted(folder.rglob("*")) if path.is_file()) \
        .relative_to(folder).as_posix()

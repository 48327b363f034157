"""A moderator sees only the sites assigned to them, on every page and endpoint; an admin
sees all. Another site's comment or author does not exist for them (404)."""

import pytest

from service.container import services
from tests.conftest import make_user, sign_in, submit

# The admins' retraining pages (GET) and forms (POST).
ADMIN_PAGES = ("models", "models/<version>", "models/<version>/charts/<name>.png",
               "jobs/<int:job_id>", "examples", "thresholds",
               "sites/<name>/policy")
ADMIN_POSTS = {"/moderation/admin/models/train", "/moderation/admin/models/rollback",
               "/moderation/admin/models/<version>/promote",
               "/moderation/admin/models/<version>/shadow",
               "/moderation/admin/jobs/<int:job_id>/cancel",
               "/moderation/admin/examples/<int:example_id>/labels",
               "/moderation/admin/examples/<int:example_id>/excluded",
               "/moderation/admin/thresholds", "/moderation/admin/sites/<name>/policy"}

# Every moderation route, and how each is checked below: a new route must be added here.
WEB_ROUTES = {
    "/moderation/", "/moderation/bulk", "/moderation/comments/<int:comment_id>",
    "/moderation/comments/<int:comment_id>/decision",
    "/moderation/authors/<int:author_id>/standing", "/moderation/dashboard",
    "/moderation/comments/<int:comment_id>/undo", "/moderation/comments/<int:comment_id>/feature",
    "/moderation/articles", "/moderation/articles/<int:article_id>/closed",
    "/moderation/dashboard/<name>.png", "/moderation/authors/<int:author_id>",
    # Admins only (test_only_admins_manage_deliveries):
    "/moderation/deliveries", "/moderation/deliveries/<int:event_id>/retry",
    "/moderation/sites/<int:site_id>/webhook",
    # Admins only (test_only_admins_manage_models):
    *(f"/moderation/admin/{path}" for path in ADMIN_PAGES), *ADMIN_POSTS,
}
API_ROUTES = {
    "/v1/moderation/queue", "/v1/moderation/comments/<int:comment_id>",
    "/v1/moderation/comments/<int:comment_id>/claim",
    "/v1/moderation/comments/<int:comment_id>/decision", "/v1/moderation/decisions",
    "/v1/moderation/comments/<int:comment_id>/audit",
    "/v1/moderation/authors/<int:author_id>/standing",
    "/v1/moderation/comments/<int:comment_id>/undo",
    "/v1/moderation/comments/<int:comment_id>/featured",
    "/v1/moderation/articles", "/v1/moderation/articles/<int:article_id>/closed",
}


@pytest.fixture
def theirs(client, other_held_site):
    """A comment on a site the moderator is not assigned to, and its author's id."""
    comment = submit(client, other_held_site, "A fair point about the harbour plans.",
                     author="outsider")
    return comment


@pytest.fixture
def author_of_theirs(app, theirs):
    from service.comments.models import Comment
    from service.extensions import db
    with app.app_context():
        return db.session.get(Comment, theirs["id"]).author_id


def test_every_moderation_route_is_covered_here(app):
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert {r for r in rules if r.startswith("/moderation")} == WEB_ROUTES
    assert {r for r in rules if r.startswith("/v1/moderation/")} == API_ROUTES


def test_the_api_hides_other_sites(client, held_site, moderator, theirs, author_of_theirs):
    mine = submit(client, held_site, "The timetable change is welcome.")
    headers = moderator.headers
    listed = client.get("/v1/moderation/queue", headers=headers).json
    assert [item["id"] for item in listed["items"]] == [mine["id"]]
    assert listed["counts"]["pending"] == 1
    assert client.get("/v1/moderation/queue", query_string={"site": "the-planet"},
                      headers=headers).status_code == 404
    cid = theirs["id"]
    assert client.get(f"/v1/moderation/comments/{cid}", headers=headers).status_code == 404
    assert client.post(f"/v1/moderation/comments/{cid}/claim", headers=headers).status_code == 404
    assert client.post(f"/v1/moderation/comments/{cid}/decision", headers=headers,
                       json={"action": "approve"}).status_code == 404
    assert client.get(f"/v1/moderation/comments/{cid}/audit", headers=headers).status_code == 404
    bulk = client.post("/v1/moderation/decisions", headers=headers,
                       json={"ids": [cid, mine["id"]], "action": "approve"}).json
    assert bulk["decided"] == [mine["id"]] and list(bulk["failed"]) == [str(cid)]
    assert client.post(f"/v1/moderation/authors/{author_of_theirs}/standing", headers=headers,
                       json={"standing": "banned"}).status_code == 404


def test_the_web_ui_hides_other_sites(client, held_site, moderator, theirs, author_of_theirs):
    mine = submit(client, held_site, "The timetable change is welcome.")
    token = sign_in(client, moderator)
    queue = client.get("/moderation/").get_data(as_text=True)
    assert "The timetable change is welcome." in queue
    assert "harbour" not in queue and "the-planet" not in queue
    assert client.get("/moderation/", query_string={"site": "the-planet"}).status_code == 404
    cid = theirs["id"]
    assert client.get(f"/moderation/comments/{cid}").status_code == 404
    assert client.post(f"/moderation/comments/{cid}/decision",
                       data={"action": "approve", "csrf_token": token}).status_code == 404
    assert client.post(f"/moderation/authors/{author_of_theirs}/standing",
                       data={"standing": "banned", "csrf_token": token}).status_code == 404
    for action, data in (("undo", {}), ("feature", {"featured": "1"})):
        assert client.post(f"/moderation/comments/{cid}/{action}",
                           data={**data, "csrf_token": token}).status_code == 404
    assert client.get(f"/moderation/authors/{author_of_theirs}").status_code == 404
    articles = client.get("/moderation/articles").get_data(as_text=True)
    assert "the-planet" not in articles
    with client.application.app_context():
        from service.comments.models import Comment
        from service.extensions import db
        their_article = db.session.get(Comment, cid).article_id
    assert client.post(f"/moderation/articles/{their_article}/closed",
                       data={"closed": "1", "csrf_token": token}).status_code == 404
    bulk = client.post("/moderation/bulk", follow_redirects=True,
                       data={"ids": [cid, mine["id"]], "action": "approve",
                             "csrf_token": token}).get_data(as_text=True)
    assert f"1 not decided. comment {cid}: no comment {cid}" in bulk
    dashboard = client.get("/moderation/dashboard").get_data(as_text=True)
    assert 'id="tile-pending">0<' in dashboard  # mine was approved; theirs is not counted


def test_an_admin_sees_every_site(app, client, held_site, theirs):
    admin = make_user(app, "ada", "admin")
    mine = submit(client, held_site, "The timetable change is welcome.")
    listed = client.get("/v1/moderation/queue", headers=admin.headers).json
    assert {item["id"] for item in listed["items"]} == {mine["id"], theirs["id"]}
    assert client.get(f"/v1/moderation/comments/{theirs['id']}",
                      headers=admin.headers).status_code == 200
    sign_in(client, admin)
    assert client.get(f"/moderation/comments/{theirs['id']}").status_code == 200


def test_a_moderator_without_sites_sees_nothing(app, client, held_site):
    submit(client, held_site, "The timetable change is welcome.")
    idle = make_user(app, "ivan", "moderator")
    listed = client.get("/v1/moderation/queue", headers=idle.headers).json
    assert listed["items"] == [] and listed["counts"]["pending"] == 0


def test_only_admins_manage_deliveries(app, client, held_site, moderator):
    submit(client, held_site, "The timetable change is welcome.")
    token = sign_in(client, moderator)
    assert client.get("/moderation/deliveries").status_code == 403
    assert client.post("/moderation/deliveries/1/retry",
                       data={"csrf_token": token}).status_code == 403
    assert client.post(f"/moderation/sites/{held_site.id}/webhook",
                       data={"action": "pause", "csrf_token": token}).status_code == 403
    assert "Deliveries</a>" not in client.get("/moderation/").get_data(as_text=True)
    admin = make_user(app, "ada", "admin")
    client.post("/logout", data={"csrf_token": token})
    sign_in(client, admin)
    assert client.get("/moderation/deliveries").status_code == 200


def test_only_admins_manage_models(app, client, held_site, moderator):
    fill = {"<version>": "20990101T000000Z-abcdef", "<name>": "scores", "<int:job_id>": "1",
            "<int:example_id>": "1"}

    def concrete(rule: str) -> str:
        for placeholder, value in fill.items():
            rule = rule.replace(placeholder, value)
        return rule

    pages = [concrete(f"/moderation/admin/{path}") for path in ADMIN_PAGES]
    posts = [concrete(rule) for rule in ADMIN_POSTS]
    for url in pages:
        assert client.get(url).status_code == 302, url  # to the sign-in page
    token = sign_in(client, moderator)
    for url in pages:
        assert client.get(url).status_code == 403, url
    for url in posts:
        assert client.post(url, data={"csrf_token": token, "promote": "1"}).status_code == 403
    assert "Models</a>" not in client.get("/moderation/").get_data(as_text=True)
    with app.app_context():
        assert services(app).jobs.recent() == []
    client.post("/logout", data={"csrf_token": token})
    sign_in(client, make_user(app, "ada", "admin"))
    assert '<a href="/moderation/admin/models">Models</a>' in client.get(
        "/moderation/").get_data(as_text=True)
    assert client.get("/moderation/admin/models").status_code == 200

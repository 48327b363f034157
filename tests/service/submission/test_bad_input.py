"""Bad input gets a clear JSON error in one shape, and changes nothing."""

import json

import pytest

from service.container import services
from tests.service.submission.test_submit import comment, stored_comments


def assert_error(response, code):
    assert response.status_code == code, response.get_data(as_text=True)
    body = response.json
    assert body["code"] == code
    assert body["status"]
    assert body["message"]
    return body


def test_malformed_json_is_400(app, client, site):
    response = client.post("/v1/comments", data='{"text": "unterminated',
                           content_type="application/json", headers=site.headers)
    assert_error(response, 400)
    assert stored_comments(app) == 0


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Bearer mk_000000000000_" + "x" * 43},
    {"Authorization": "Bearer not-a-key"},
])
def test_a_missing_or_wrong_key_is_401(app, client, site, headers):
    response = client.post("/v1/comments", json=comment(), headers=headers)
    body = assert_error(response, 401)
    assert "Authorization" in body["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert stored_comments(app) == 0


def test_a_rotated_key_stops_working(app, client, site):
    with app.app_context():
        services(app).sites.rotate_key(site.name)
    assert_error(client.post("/v1/comments", json=comment(), headers=site.headers), 401)


@pytest.mark.parametrize("path", ["/v1/comments/999999", "/v1/comments/99999999999999999999999"])
def test_an_unknown_comment_is_404(client, site, path):
    assert_error(client.get(path, headers=site.headers), 404)


def test_an_unknown_route_is_404_in_the_same_shape(client):
    assert_error(client.get("/v1/nothing-here"), 404)


def test_a_body_over_64_kb_is_413(app, client, site):
    body = json.dumps(comment("x" * 70_000))
    response = client.post("/v1/comments", data=body, content_type="application/json",
                           headers=site.headers)
    assert_error(response, 413)
    assert stored_comments(app) == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_415(app, client, site, content_type):
    response = client.post("/v1/comments", data=json.dumps(comment()), headers=site.headers,
                           content_type=content_type)
    assert_error(response, 415)
    assert stored_comments(app) == 0


@pytest.mark.parametrize("payload, field", [
    ({"author": {"id": "a"}, "text": "hi"}, "article_id"),
    ({"article_id": "a", "text": "hi"}, "author"),
    ({"article_id": "a", "author": {"id": "a"}}, "text"),
    (comment("   "), "text"),
    (comment("x" * 10_001), "text"),
    (comment("bad \x00 byte"), "text"),
    (comment("lone \ud800 surrogate"), "text"),
    (comment(42), "text"),
    (comment(article_id=""), "article_id"),
    (comment(article_id="a" * 201), "article_id"),
    (comment(article_url="javascript:alert(1)"), "article_url"),
    (comment(article_url="https://news.example/\x00"), "article_url"),
    (comment(article_url="https://news.example/\ud800"), "article_url"),
    (comment(author={"id": "a", "name": "nul\x00"}), "author"),
    (comment(parent_id="1"), "parent_id"),
    (comment(parent_id=2**64), "parent_id"),
    (comment(parent_id=0), "parent_id"),
    (comment(client_id=""), "client_id"),
    (comment(unexpected=True), "unexpected"),
    ({**comment(), "author": {"name": "no id"}}, "author"),
    ({**comment(), "author": "reader-1"}, "author"),
])
def test_field_errors_are_422_with_a_message_per_field(app, client, site, payload, field):
    response = client.post("/v1/comments", json=payload, headers=site.headers)
    body = assert_error(response, 422)
    assert field in body["errors"]["json"]
    assert stored_comments(app) == 0


@pytest.mark.parametrize("payload", [[], "text", 12, None, {"nested": [[[[[[[[[[]]]]]]]]]]},
                                     2**200, 1e308])
def test_json_that_is_not_an_object_is_a_clear_4xx(client, site, payload):
    response = client.post("/v1/comments", data=json.dumps(payload),
                           content_type="application/json", headers=site.headers)
    assert 400 <= response.status_code < 500
    assert response.json["message"]


def test_a_10000_character_comment_is_accepted(client, site):
    response = client.post("/v1/comments", json=comment("word " * 2000), headers=site.headers)
    assert response.status_code == 201


@pytest.mark.parametrize("path", ["/v1/comments", "/v1/score", "/v1/score/batch"])
def test_json_nested_deeper_than_python_can_parse_is_400(client, site, path):
    body = "[" * 30_000 + "]" * 30_000
    response = client.post(path, data=body, content_type="application/json", headers=site.headers)
    assert_error(response, 400)
    assert "nested" in response.json["message"]


@pytest.mark.parametrize("path", ["/v1/score", "/v1/score/batch"])
def test_score_endpoints_refuse_bad_bodies_like_submissions(client, site, path):
    assert_error(client.post(path, data="{", content_type="application/json",
                             headers=site.headers), 400)
    assert_error(client.post(path, data="text=hi", headers=site.headers,
                             content_type="text/plain"), 415)
    too_large = 70_000 if path == "/v1/score" else 1024 * 1024 + 1  # the batch's own cap
    assert_error(client.post(path, data=json.dumps({"text": "x" * too_large}),
                             content_type="application/json", headers=site.headers), 413)


def test_an_unauthenticated_caller_learns_only_that_it_needs_a_key(client):
    assert_error(client.post("/v1/comments", data="not json", content_type="text/plain"), 401)


@pytest.mark.parametrize("text", [
    "$" * 10_000, "a." * 5_000, "1." * 5_000, "a-" * 5_000, "1 " * 5_000, "f u " * 2_500,
    "x" * 10_000, "\u200b" * 10_000, "🤡" * 2_000, "ا" * 10_000, "a " * 5_000,
    "dot com " * 1_250, "+1 (" * 2_500,
])
def test_pathological_texts_are_scored_and_explained(client, site, text):
    """Texts built to make regular expressions backtrack: each must simply work."""
    response = client.post("/v1/score", json={"text": text}, headers=site.headers)
    assert response.status_code == 200
    assert 0.0 <= response.json["score"] <= 1.0

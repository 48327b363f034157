"""Hostile input on every JSON endpoint (host site, moderation, admin): each gets a clear 4xx
in the API's one error shape, or is handled (2xx) and stored exactly; never a 500.

tests/service/submission/test_bad_input.py covers the field rules of POST /v1/comments; this
extends them to every endpoint and to what Python's JSON parser accepts but JSON does not.
"""

from __future__ import annotations

import json

import pytest

from classifier import LABELS

MAX_BODY = 64 * 1024
BATCH_BODY_BYTES = 1024 * 1024


def body_endpoints(world) -> list[tuple[str, str, dict[str, str]]]:
    """(method, path, headers) of every endpoint that reads a JSON body."""
    site, admin = world.site.headers, world.admin.headers
    held, approved = world.comments["pending_review"], world.comments["approved"]
    return [
        ("POST", "/v1/comments", site), ("POST", "/v1/score", site),
        ("POST", "/v1/score/batch", site), ("POST", f"/v1/comments/{approved}/flags", site),
        ("POST", f"/v1/moderation/comments/{held}/decision", admin),
        ("POST", "/v1/moderation/decisions", admin),
        ("POST", f"/v1/moderation/authors/{world.author_id}/standing", admin),
        ("PUT", f"/v1/moderation/comments/{approved}/featured", admin),
        ("PUT", f"/v1/moderation/articles/{world.article_id}/closed", admin),
        ("POST", "/v1/admin/models", admin), ("POST", "/v1/admin/models/rollback", admin),
        ("POST", f"/v1/admin/models/{world.version}/promote", admin),
        ("POST", "/v1/admin/shadow", admin), ("POST", "/v1/admin/thresholds/proposals", admin),
        ("PATCH", f"/v1/admin/examples/{world.example_id}", admin),
        ("PUT", f"/v1/admin/sites/{world.site.name}/thresholds", admin),
    ]


def assert_error(response, code: int) -> dict:
    assert response.status_code == code, (response.status_code, response.get_data(as_text=True))
    body = response.json
    assert body["code"] == code and body["status"] and body["message"], body
    assert set(body) <= {"code", "status", "message", "errors", "request_id"}, body
    return body


@pytest.fixture
def client(shared_app):
    return shared_app.test_client()


def send(client, method: str, path: str, headers: dict, body: bytes | str,
         content_type: str | None = "application/json"):
    return client.open(path, method=method, data=body, headers=headers,
                       content_type=content_type)


def comments_stored(app) -> int:
    from sqlalchemy import func, select

    from service.comments.models import Comment
    from service.extensions import db
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Comment))


@pytest.mark.parametrize("body, message", [
    pytest.param(b'{"text": "\xff\xfe\xc0\x80 bad"}', "not valid JSON", id="invalid-utf8"),
    pytest.param(b'{"text": "raw \x00 nul"}', "not valid JSON", id="raw-nul-byte"),
    pytest.param(b'{"text": "cut', "not valid JSON", id="truncated"),
    pytest.param(b"[" * 30_000 + b"]" * 30_000, "nested", id="nested-arrays"),
    pytest.param(b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "nested", id="nested-objects"),
    pytest.param(b'{"text": ' + b"9" * 5_000 + b"}", "digits", id="5000-digit-integer"),
    pytest.param(b'{"text": "x", "approve_below": NaN}', "NaN", id="NaN"),
    pytest.param(b'{"text": "x", "reject_at": Infinity}', "NaN", id="Infinity"),
    pytest.param(b'{"ids": [-Infinity]}', "NaN", id="-Infinity"),
    pytest.param(b'{"text": "shown", "text": "stored"}', "repeats a key", id="duplicate-keys"),
    pytest.param(b'{"author": {"id": "a", "id": "b"}}', "repeats a key", id="duplicate-nested"),
])
def test_what_is_not_json_is_400_everywhere(shared_app, shared_world, client, body, message):
    before = comments_stored(shared_app)
    for method, path, headers in body_endpoints(shared_world):
        response = send(client, method, path, headers, body)
        assert message in assert_error(response, 400)["message"], path
    assert comments_stored(shared_app) == before


@pytest.mark.parametrize("body", [
    pytest.param(json.dumps({"text": "x" * 1_000_000}), id="1MB"),
    pytest.param("[" * 100_000 + "]" * 100_000, id="nested-100000"),
    pytest.param(json.dumps({"text": "w" * 100_000}), id="100000-character-word"),
])
def test_a_body_over_64_kb_is_413_everywhere(shared_world, client, body):
    assert len(body.encode()) > MAX_BODY
    for method, path, headers in body_endpoints(shared_world):
        if path == "/v1/score/batch":  # its own cap, 1 MB: refused there below
            continue
        assert_error(send(client, method, path, headers, body), 413)


def test_a_body_over_1_mb_is_413_at_the_batch_endpoint(shared_world, client):
    body = json.dumps({"texts": ["x" * 5000] * 210})  # over 1 MB
    assert len(body.encode()) > BATCH_BODY_BYTES
    assert_error(send(client, "POST", "/v1/score/batch", shared_world.site.headers, body), 413)


@pytest.mark.parametrize("body", ["[]", '"text"', "12", "null", "true", "[{}]", '[["text"]]'])
def test_json_that_is_not_an_object_is_422_everywhere(shared_world, client, body):
    for method, path, headers in body_endpoints(shared_world):
        errors = assert_error(send(client, method, path, headers, body), 422)["errors"]
        assert errors["json"]["_schema"], path


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/xml", "application/javascript", None])
def test_a_body_that_is_not_json_is_415_everywhere(shared_app, shared_world, client,
                                                   content_type):
    body = json.dumps({"text": "A fine comment.", "action": "approve"})
    for method, path, headers in body_endpoints(shared_world):
        assert_error(send(client, method, path, headers, body, content_type), 415)


def _strings(world) -> list[tuple[str, str, dict, str, dict]]:
    """(method, path, headers, field, valid body without it) for a string field of each
    endpoint, so one bad value is the only fault."""
    site, admin = world.site.headers, world.admin.headers
    held, approved = world.comments["pending_review"], world.comments["approved"]
    comment = {"article_id": "a-1", "author": {"id": "r"}, "text": "A fine comment."}
    return [
        ("POST", "/v1/comments", site, "text", comment),
        ("POST", "/v1/comments", site, "article_title", comment),
        ("POST", "/v1/comments", site, "client_id", comment),
        ("POST", "/v1/score", site, "text", {}),
        ("POST", f"/v1/comments/{approved}/flags", site, "reason", {}),
        ("POST", f"/v1/comments/{approved}/flags", site, "reporter_id", {"reason": "spam"}),
        ("POST", f"/v1/moderation/comments/{held}/decision", admin, "note",
         {"action": "approve"}),
        ("POST", f"/v1/moderation/comments/{held}/decision", admin, "reason",
         {"action": "reject"}),
        ("POST", "/v1/moderation/decisions", admin, "note", {"action": "approve", "ids": [held]}),
        ("POST", f"/v1/moderation/authors/{world.author_id}/standing", admin, "note",
         {"standing": "normal"}),
        ("POST", "/v1/admin/models/rollback", admin, "reason", {}),
        ("POST", f"/v1/admin/models/{world.version}/promote", admin, "reason", {}),
        ("POST", "/v1/admin/shadow", admin, "version", {}),
    ]


@pytest.mark.parametrize("value", ["nul \x00 inside", "lone \ud800 surrogate", "\udfff",
                                   "\x00"])
def test_nul_and_lone_surrogates_are_422_in_every_string_field(shared_app, shared_world, client,
                                                               value):
    before = comments_stored(shared_app)
    for method, path, headers, field, body in _strings(shared_world):
        # json.dumps escapes both as \u0000 and \ud800, which JSON allows and Python decodes.
        response = send(client, method, path, headers, json.dumps({**body, field: value}))
        assert field in assert_error(response, 422)["errors"]["json"], (path, field)
    assert comments_stored(shared_app) == before


@pytest.mark.parametrize("query", [
    "/v1/moderation/queue?q=%00", "/v1/moderation/queue?site=%00",
    "/v1/moderation/queue?cursor=%00", "/v1/moderation/queue?limit=" + "9" * 5_000,
    "/v1/moderation/queue?limit=-0", "/v1/admin/examples?q=%00",
    "/v1/admin/examples?before_id=99999999999999999999", "/v1/events?after=%00",
    "/v1/events?limit=1e400", "/v1/articles/a-1/comments?cursor=%00",
])
def test_hostile_query_values_are_422(shared_world, client, query):
    headers = shared_world.headers_for(query)
    assert_error(client.get(query, headers=headers), 422)


@pytest.mark.parametrize("query", ["/v1/moderation/queue?q=%ED%A0%80",
                                   "/v1/moderation/queue?q=%FF%FE", "/v1/admin/examples?q=%C0%80"])
def test_query_bytes_that_are_not_utf8_search_for_nothing(shared_world, client, query):
    response = client.get(query, headers=shared_world.admin.headers)
    assert response.status_code == 200 and response.json["items"] == []


def _paths(world) -> list[tuple[str, str]]:
    held = world.comments["pending_review"]
    huge = "99999999999999999999"  # over 64 bits
    return [
        ("GET", f"/v1/comments/{huge}"), ("POST", f"/v1/comments/{huge}/flags"),
        ("GET", "/v1/articles/%00/comments"), ("DELETE", "/v1/authors/%00"),
        ("GET", f"/v1/moderation/comments/{huge}"),
        ("POST", f"/v1/moderation/comments/{huge}/claim"),
        ("POST", f"/v1/moderation/comments/{huge}/decision"),
        ("GET", f"/v1/moderation/comments/{huge}/audit"),
        ("POST", f"/v1/moderation/authors/{huge}/standing"),
        ("GET", f"/v1/admin/jobs/{huge}"), ("GET", "/v1/admin/jobs/4294967296"),
        ("POST", "/v1/admin/jobs/4294967296/cancel"), ("PATCH", f"/v1/admin/examples/{huge}"),
        ("GET", "/v1/admin/models/%00"), ("GET", "/v1/admin/models/..%2F..%2Fetc%2Fpasswd"),
        ("POST", "/v1/admin/models/%00/promote"), ("PUT", "/v1/admin/sites/%00/thresholds"),
        ("PUT", "/v1/admin/sites/%ED%A0%80/thresholds"),
        ("POST", f"/v1/moderation/comments/{held}%00/claim"),
    ]


def test_paths_naming_what_no_row_can_hold_are_404(shared_world, client):
    """A NUL, a lone surrogate or a 65-bit id in the path: nothing has it (PostgreSQL would
    refuse even to look, and the driver cannot send such an id)."""
    body = {"standing": "banned", "reason": "spam", "action": "approve", "excluded": True,
            "approve_below": 0.1, "reject_at": 0.9}
    for method, path in _paths(shared_world):
        headers = shared_world.headers_for(path)
        fields = {"/standing": ["standing"], "/flags": ["reason"], "/decision": ["action"],
                  "/examples/": ["excluded"], "/thresholds": ["approve_below", "reject_at"]}
        payload = next(({name: body[name] for name in names}
                        for key, names in fields.items() if key in path), None)
        response = client.open(path, method=method, json=payload, headers=headers)
        assert_error(response, 404)


def test_admin_pages_naming_impossible_ids_are_404(shared_world, client):
    from tests.conftest import sign_in
    token = sign_in(client, shared_world.admin)
    huge = "99999999999999999999"
    for method, path in [("GET", f"/moderation/admin/jobs/{huge}"),
                         ("GET", "/moderation/admin/jobs/4294967296"),
                         ("POST", "/moderation/admin/jobs/4294967296/cancel"),
                         ("POST", f"/moderation/admin/examples/{huge}/labels"),
                         ("POST", f"/moderation/admin/examples/{huge}/excluded"),
                         ("GET", f"/moderation/comments/{huge}"),
                         ("POST", f"/moderation/deliveries/{huge}/retry")]:
        response = client.open(path, method=method, data={"csrf_token": token})
        assert response.status_code == 404, path
        assert "text/html" in response.content_type


@pytest.mark.parametrize("method, path, body, code", [
    # Numbers out of any range: a clear 422 naming the field.
    ("PUT", "/v1/admin/sites/{site}/thresholds", '{"approve_below": 1e400, "reject_at": 1}', 422),
    ("PUT", "/v1/admin/sites/{site}/thresholds",
     '{"approve_below": %s, "reject_at": 1}' % (10**1000), 422),
    ("POST", "/v1/admin/thresholds/proposals", '{"min_rejected_precision": -1e400}', 422),
    ("POST", "/v1/comments", '{"article_id": "a", "author": {"id": "r"}, "text": "Hi there.", '
                             '"parent_id": %s}' % (10**1000), 422),
    ("POST", "/v1/moderation/decisions", '{"action": "approve", "ids": [%s]}' % (10**1000), 422),
    ("POST", "/v1/moderation/decisions", '{"action": "approve", "ids": [1e400]}', 422),
    ("POST", "/v1/moderation/authors/{author}/standing",
     '{"standing": "suspended", "days": 1e400}', 422),
    ("POST", "/v1/score", '{"text": 1e400}', 422),
    ("PATCH", "/v1/admin/examples/{example}", '{"labels": {"spam": 1e400}}', 422),
    # -0 is zero: handled.
    ("PUT", "/v1/admin/sites/{site}/thresholds", '{"approve_below": -0, "reject_at": 0.95}', 200),
    ("PUT", "/v1/admin/sites/{site}/thresholds", '{"approve_below": -0.0, "reject_at": 1}', 200),
    ("PATCH", "/v1/admin/examples/{example}",
     '{"labels": {%s}}' % ", ".join(f'"{label}": -0' for label in LABELS), 200),
])
def test_huge_and_signed_zero_numbers_are_refused_or_handled(shared_world, client, method, path,
                                                             body, code):
    world = shared_world
    path = path.format(site=world.site.name, author=world.author_id, example=world.example_id)
    response = send(client, method, path, world.headers_for(path), body)
    if code >= 400:
        assert_error(response, code)
    else:
        assert response.status_code == code, response.json
        if "approve_below" in body:
            assert response.json["approve_below"] == 0


@pytest.mark.parametrize("text", [
    pytest.param("Great match 🎉🔥👏🏽 — 👨‍👩‍👧‍👦 family day out! 🇬🇧", id="emoji"),
    pytest.param("مقال رائع عن الميزانية، شكراً لكم", id="arabic-rtl"),
    pytest.param("כתבה מצוינת \u202eevil.exe\u202c done", id="hebrew-rtl-override"),
    pytest.param("zero\u200bwidth\u200cnon\u200djoiner\u2060word\ufeffmark", id="zero-width"),
    pytest.param("Zalgo: Z̴̡̢̛a̷̧̛l̸̨̛g̵̡̛o̶̢̧ and e\u0301 vs \u00e9", id="combining-marks"),
    pytest.param("bell\x07 escape\x1b[31mred\x1b[0m back\x08 del\x7f c1\x85\x9b", id="control-chars"),
    pytest.param("<script>alert(1)</script> ' OR 1=1; -- $(rm -rf /) {{7*7}} %s%n", id="injection"),
    pytest.param("\U0010fffd\U0001d54f\uffff private-use \ue000", id="astral-and-noncharacters"),
])
def test_unusual_text_is_accepted_and_stored_exactly(shared_world, client, text):
    world = shared_world
    payload = {"article_id": f"unusual-{len(text)}-{ord(text[0])}", "author": {"id": "r-u", "name": text[:200]},
               "text": text, "article_title": text[:500]}
    response = client.post("/v1/comments", data=json.dumps(payload, ensure_ascii=False),
                           content_type="application/json", headers=world.site.headers)
    assert response.status_code == 201, response.json
    stored = client.get(f"/v1/comments/{response.json['id']}", headers=world.site.headers).json
    assert stored["text"] == text and stored["author"]["name"] == text[:200]
    detail = client.get(f"/v1/moderation/comments/{stored['id']}",
                        headers=world.admin.headers).json
    assert detail["comment"]["text"] == text and detail["comment"]["article_title"] == text
    score = client.post("/v1/score", json={"text": text}, headers=world.site.headers)
    assert score.status_code == 200 and 0 <= score.json["score"] <= 1


def test_a_word_as_long_as_a_comment_may_be_is_stored_exactly(shared_world, client):
    from service.submission.schemas import MAX_TEXT
    word = "𝕏" * (MAX_TEXT // 2) + "a" * (MAX_TEXT - MAX_TEXT // 2)  # astral: 4 bytes each
    body = json.dumps({"article_id": "long", "author": {"id": "r"}, "text": word},
                      ensure_ascii=False).encode()
    assert len(body) < MAX_BODY
    response = client.post("/v1/comments", data=body, content_type="application/json",
                           headers=shared_world.site.headers)
    assert response.status_code == 201, response.json
    assert client.get(f"/v1/comments/{response.json['id']}",
                      headers=shared_world.site.headers).json["text"] == word
    one_more = json.dumps({"article_id": "long", "author": {"id": "r"}, "text": word + "a"})
    assert "text" in assert_error(send(client, "POST", "/v1/comments", shared_world.site.headers,
                                       one_more), 422)["errors"]["json"]


def test_surrounding_white_space_is_trimmed_but_inner_text_kept(shared_world, client):
    text = "\u3000\t line one\r\n\u2028line two \x1c"
    response = client.post("/v1/comments", headers=shared_world.site.headers, json={
        "article_id": "ws", "author": {"id": "r"}, "text": text})
    assert response.status_code == 201
    assert response.json["text"] == "line one\r\n\u2028line two"


@pytest.mark.parametrize("authorization", [
    "Bearer \x00", "Bearer mk_" + "\u00e9" * 40, "Bearer " + "k" * 8_000, "bearer", "Bearer\t",
    "Basic " + "=" * 10])
def test_hostile_credentials_are_401(shared_world, client, authorization):
    for path in ("/v1/score", "/v1/moderation/queue", "/v1/admin/models"):
        response = client.open(path, method="POST" if path == "/v1/score" else "GET",
                               json={"text": "hi"}, headers={"Authorization": authorization})
        assert_error(response, 401)


def test_hostile_bodies_are_4xx_with_rate_limits_on_too(app_config):
    """The rate limiter reads a submission's author before the schema does (production turns
    it on): what the schema refuses must not fail there first."""
    from service import create_app
    from service.extensions import db
    from tests.conftest import make_site
    app = create_app({**app_config, "RATE_LIMITS": "1"})
    with app.app_context():
        db.drop_all()
        db.create_all()
    try:
        site = make_site(app, "limited")
        client = app.test_client()
        for body, code in [(b"[" * 30_000 + b"]" * 30_000, 400),
                           (b'{"author": ' * 5_000 + b"1" + b"}" * 5_000, 400),
                           (b'{"author": {"id": ' + b"9" * 5_000 + b"}}", 400),
                           (b'{"author": {"id": "a", "id": "b"}}', 400),
                           (b'{"author": {"id": NaN}}', 400), (b'{"author": [1]}', 422),
                           (b'{"author": {"id": "\xff"}}', 400)]:
            assert_error(send(client, "POST", "/v1/comments", site.headers, body), code)
    finally:
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()

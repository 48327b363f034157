"""Featured comments: a moderator features a published comment; the comment's JSON, the read
API and the host site's events say so; anything but a published comment cannot be."""

from tests.conftest import HOLD_ALL, make_site, make_user, sign_in, submit


def act(client, account, comment_id, action, **extra):
    response = client.post(f"/v1/moderation/comments/{comment_id}/decision",
                           json={"action": action, **extra}, headers=account.headers)
    assert response.status_code == 200, response.json


def feature(client, account, comment_id, featured: bool):
    return client.put(f"/v1/moderation/comments/{comment_id}/featured",
                      json={"featured": featured}, headers=account.headers)


def events(client, site) -> list[tuple[str, int, bool]]:
    page = client.get("/v1/events", headers=site.headers, query_string={"limit": 100}).json
    return [(e["type"], e["data"]["id"], e["data"]["featured"]) for e in page["items"]]


def test_feature_a_published_comment_and_the_host_site_hears_of_it(app, client):
    site = make_site(app, "bugle", rules=HOLD_ALL)
    moderator = make_user(app, "mary", "moderator", ("bugle",))
    best = submit(client, site, "A clear account of the harbour plan, with sources.")["id"]
    other = submit(client, site, "I agree with the piece.")["id"]
    for comment_id in (best, other):
        act(client, moderator, comment_id, "approve")

    response = feature(client, moderator, best, True)
    assert response.status_code == 200, response.json
    assert response.json["featured"] is True
    assert client.get(f"/v1/comments/{best}", headers=site.headers).json["featured"] is True
    threads = client.get("/v1/articles/a-1/comments", headers=site.headers).json["threads"]
    assert {t["comment"]["id"]: t["comment"]["featured"] for t in threads} == \
        {best: True, other: False}
    assert events(client, site)[-1] == ("comment.featured", best, True)

    again = feature(client, moderator, best, True)
    assert again.status_code == 409 and "already featured" in again.json["message"]

    assert feature(client, moderator, best, False).json["featured"] is False
    assert events(client, site)[-1] == ("comment.unfeatured", best, False)
    audit = client.get(f"/v1/moderation/comments/{best}/audit", headers=moderator.headers).json
    assert [entry["action"] for entry in audit["items"]][-2:] == ["feature", "unfeature"]


def test_only_a_published_comment_can_be_featured_and_taking_it_down_ends_it(app, client):
    site = make_site(app, "bugle", rules=HOLD_ALL)
    moderator = make_user(app, "mary", "moderator", ("bugle",))
    held = submit(client, site, "Still waiting for a moderator.")["id"]
    refused = feature(client, moderator, held, True)
    assert refused.status_code == 409
    assert "only a published comment can be featured" in refused.json["message"]

    act(client, moderator, held, "approve")
    assert feature(client, moderator, held, True).status_code == 200
    act(client, moderator, held, "remove", reason="other")
    comment = client.get(f"/v1/comments/{held}", headers=site.headers).json
    assert (comment["status"], comment["featured"]) == ("removed", False)
    assert events(client, site)[-1] == ("comment.removed", held, False)


def test_another_sites_moderator_cannot_feature(app, client):
    site = make_site(app, "bugle", rules=HOLD_ALL)
    make_site(app, "planet")
    moderator = make_user(app, "mary", "moderator", ("bugle",))
    stranger = make_user(app, "pete", "moderator", ("planet",))
    comment_id = submit(client, site, "A fine comment.")["id"]
    act(client, moderator, comment_id, "approve")
    assert feature(client, stranger, comment_id, True).status_code == 404


def test_feature_from_the_comment_page(app, client):
    site = make_site(app, "bugle", rules=HOLD_ALL)
    moderator = make_user(app, "mary", "moderator", ("bugle",))
    comment_id = submit(client, site, "A thoughtful reply about the ferry timetable.")["id"]
    act(client, moderator, comment_id, "approve")
    token = sign_in(client, moderator)
    page = client.get(f"/moderation/comments/{comment_id}").get_data(as_text=True)
    assert "Feature (f)" in page
    done = client.post(f"/moderation/comments/{comment_id}/feature", follow_redirects=True,
                       data={"featured": "1", "csrf_token": token}).get_data(as_text=True)
    assert f"Featured comment {comment_id}." in done and "Stop featuring (f)" in done

"""What host sites read: an article's published comments, threaded, with an ETag; the feed."""

from tests.conftest import HOLD_ALL, make_site, make_user, submit


def decide(client, account, comment_id, action, **extra):
    response = client.post(f"/v1/moderation/comments/{comment_id}/decision",
                           json={"action": action, **extra}, headers=account.headers)
    assert response.status_code == 200, response.json


def test_published_comments_are_threaded_and_paged(app, client):
    site = make_site(app, "bugle", rules=HOLD_ALL)
    moderator = make_user(app, "mary", "moderator", ("bugle",))
    article = "2026/11/harbour"
    first = submit(client, site, "The harbour plan looks sensible.", article=article)["id"]
    reply = submit(client, site, "Agreed, and the ferry needs it.", article=article,
                   parent_id=first)["id"]
    hidden = submit(client, site, "A held comment nobody approved.", article=article)["id"]
    orphan = submit(client, site, "A reply to the held one.", article=article,
                    parent_id=hidden)["id"]
    second = submit(client, site, "What about the cycle path?", article=article)["id"]
    other = submit(client, site, "On another article.", article="2026/11/budget")["id"]
    for comment_id in (first, reply, orphan, second, other):
        decide(client, moderator, comment_id, "approve")

    url = f"/v1/articles/{article}/comments"
    page = client.get(url, headers=site.headers, query_string={"limit": 2}).json
    assert [t["comment"]["id"] for t in page["threads"]] == [first, orphan]
    assert [r["comment"]["id"] for r in page["threads"][0]["replies"]] == [reply]
    rest = client.get(url, headers=site.headers,
                      query_string={"limit": 2, "cursor": page["next_cursor"]}).json
    assert [t["comment"]["id"] for t in rest["threads"]] == [second]
    assert rest["next_cursor"] is None
    assert client.get("/v1/articles/unknown/comments", headers=site.headers).json["threads"] == []


def test_a_poll_with_the_etag_gets_304_until_something_changes(app, client):
    site = make_site(app, "bugle", rules=HOLD_ALL)
    moderator = make_user(app, "mary", "moderator", ("bugle",))
    cid = submit(client, site, "The harbour plan looks sensible.")["id"]
    url = "/v1/articles/a-1/comments"
    first = client.get(url, headers=site.headers)
    etag = first.headers["ETag"]
    assert first.json["threads"] == []
    unchanged = client.get(url, headers={**site.headers, "If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.headers["ETag"] == etag
    decide(client, moderator, cid, "approve")
    changed = client.get(url, headers={**site.headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert [t["comment"]["id"] for t in changed.json["threads"]] == [cid]


def test_another_sites_article_is_not_shown(app, client):
    site = make_site(app, "bugle")
    other = make_site(app, "planet")
    submit(client, site, "The harbour plan looks sensible.")
    assert client.get("/v1/articles/a-1/comments", headers=other.headers).json["threads"] == []
    assert client.get("/v1/articles/a-1/comments").status_code == 401


def test_the_event_feed_pages_in_order(app, client):
    site = make_site(app, "bugle", rules=HOLD_ALL)
    other = make_site(app, "planet")
    moderator = make_user(app, "mary", "moderator", ("bugle",))
    ids = [submit(client, site, f"Comment number {n} on the plans.")["id"] for n in range(3)]
    submit(client, other, "Not for bugle's feed.")
    decide(client, moderator, ids[0], "reject", reason="spam")
    page = client.get("/v1/events", headers=site.headers, query_string={"limit": 3}).json
    assert [(e["type"], e["data"]["id"]) for e in page["items"]] == [
        ("comment.held", ids[0]), ("comment.held", ids[1]), ("comment.held", ids[2])]
    assert page["items"][0]["delivery"] == "no_endpoint"
    rest = client.get("/v1/events", headers=site.headers,
                      query_string={"after": page["next_cursor"]}).json
    assert [(e["type"], e["data"]["status"]) for e in rest["items"]] == [
        ("comment.rejected", "rejected")]
    again = client.get("/v1/events", headers=site.headers,
                       query_string={"after": rest["next_cursor"]}).json
    assert again == {"items": [], "next_cursor": rest["next_cursor"]}
    bogus = client.get("/v1/events", headers=site.headers, query_string={"after": "bogus"})
    assert bogus.status_code == 422
    assert bogus.json["errors"] == {"query": {"after": ["not a cursor this endpoint gave out"]}}


def test_an_authors_new_name_changes_the_etag(app, client):
    site = make_site(app, "bugle")
    submit(client, site, "The harbour plan looks sensible.", article="a", author="r1")
    first = client.get("/v1/articles/a/comments", headers=site.headers)
    client.post("/v1/comments", headers=site.headers, json={
        "article_id": "b", "author": {"id": "r1", "name": "Ada Lovelace"},
        "text": "On another article."})
    again = client.get("/v1/articles/a/comments",
                       headers={**site.headers, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200
    assert again.json["threads"][0]["comment"]["author"]["name"] == "Ada Lovelace"

"""The right to erasure: DELETE /v1/authors/<id> erases one site's author, and only theirs."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from service.container import services
from service.extensions import db
from service.retraining.models import TrainingExample
from service.review.models import Flag
from tests.conftest import make_user, submit
from tests.service.privacy.conftest import decide, held_site

SECRET = "zanzibarquill"  # a word only the erased author ever wrote


@pytest.fixture
def history(app, client):
    """reader-1 on the bugle with a comment in every status (each decided by a person, with
    notes and flags quoting it), reader-2 beside them, and another reader-1 on the planet."""
    site, planet = held_site(app, "bugle"), held_site(app, "planet")
    mary = make_user(app, "mary", "moderator", ("bugle", "planet"))
    ids = {status: submit(client, site, f"My {status} view, {SECRET} {status}.",
                          author="reader-1")["id"]
           for status in ("approved", "reported", "pending", "rejected", "removed")}
    for status in ("approved", "reported", "removed"):
        decide(client, mary, ids[status], "approve")
    for reader in ("r1", "r2", "r3"):
        response = client.post(f"/v1/comments/{ids['reported']}/flags", headers=site.headers,
                               json={"reason": f"it says {SECRET}", "reporter_id": reader})
        assert response.status_code in (200, 201)
    decide(client, mary, ids["rejected"], "reject", reason="abuse", note=f"quoting: {SECRET}")
    decide(client, mary, ids["removed"], "remove", reason="abuse", note=f"{SECRET} again")
    bystander = submit(client, site, "The ferry timetable is much better now.",
                       author="reader-2")["id"]
    decide(client, mary, bystander, "approve")
    twin = submit(client, planet, f"On the planet I say {SECRET} too.", author="reader-1")["id"]
    decide(client, mary, twin, "approve")
    return {"site": site, "planet": planet, "mary": mary, "ids": ids, "bystander": bystander,
            "twin": twin}


def erase(client, site, author_id: str):
    return client.delete(f"/v1/authors/{author_id}", headers=site.headers)


def test_erasure_blanks_every_comment_of_the_author_on_that_site_only(app, client, history):
    site, planet, ids = history["site"], history["planet"], history["ids"]
    feed_before = client.get("/v1/events", headers=site.headers,
                             query_string={"limit": 200}).json["items"]
    response = erase(client, site, "reader-1")

    assert response.status_code == 200, response.json
    assert response.json == {"author_id": "reader-1", "comments_erased": 5,
                             "events_emitted": 2,
                             "events_scrubbed": sum(e["data"]["author"]["id"] == "reader-1"
                                                    for e in feed_before),
                             "examples_removed": 4, "remaining": 0}
    statuses = {}
    for status, comment_id in ids.items():
        comment = client.get(f"/v1/comments/{comment_id}", headers=site.headers).json
        assert comment["text"] == "" and comment["author"] == {"id": "reader-1", "name": None}
        statuses[status] = comment["status"]
    assert statuses == {"approved": "removed", "reported": "removed", "pending": "removed",
                        "rejected": "rejected", "removed": "removed"}

    # The host site is told to take down what it published, with neither text nor name.
    feed = client.get("/v1/events", headers=site.headers,
                      query_string={"limit": 200}).json["items"]
    new = feed[len(feed_before):]
    assert sorted((e["type"], e["data"]["id"]) for e in new) == sorted(
        [("comment.removed", ids["approved"]), ("comment.removed", ids["reported"])])
    assert all(e["data"]["text"] == "" and e["data"]["author"]["name"] is None for e in new)
    dumped = json.dumps(feed)
    assert SECRET not in dumped and "Reader-1" not in dumped
    assert "Reader-2" in dumped  # the bystander's events are untouched

    page = client.get("/v1/articles/a-1/comments", headers=site.headers).json
    assert [t["comment"]["id"] for t in page["threads"]] == [history["bystander"]]

    # Moderators keep the audit trail, without the notes that quoted the text.
    audit = client.get(f"/v1/moderation/comments/{ids['rejected']}/audit",
                       headers=history["mary"].headers).json["items"]
    assert [e["action"] for e in audit] == ["submit", "reject", "erase"]
    assert all(e["note"] is None for e in audit)
    assert audit[-1]["actor"] == "site bugle"
    # An erased comment can never be published again.
    restore = client.post(f"/v1/moderation/comments/{ids['removed']}/decision",
                          json={"action": "restore"}, headers=history["mary"].headers)
    assert restore.status_code == 409

    with app.app_context():
        examples = set(db.session.scalars(select(TrainingExample.text)))
        assert examples == {"The ferry timetable is much better now.",
                            f"On the planet I say {SECRET} too."}
        assert db.session.scalar(select(func.count(Flag.id))) == 0

    # The planet's reader-1 is someone else, untouched.
    twin = client.get(f"/v1/comments/{history['twin']}", headers=planet.headers).json
    assert twin["text"] == f"On the planet I say {SECRET} too."
    assert twin["author"]["name"] == "Reader-1" and twin["status"] == "approved"


def test_an_example_another_sites_identical_decision_took_over_is_removed_too(app, client):
    """One example per text: the planet's moderator deciding on the same words moves the
    bugle's example to the planet. Erasing the bugle's author must still remove it."""
    bugle, planet = held_site(app, "bugle"), held_site(app, "planet")
    mary = make_user(app, "mary", "moderator", ("bugle", "planet"))
    words = f"Identical words, {SECRET}, on two sites."
    decide(client, mary, submit(client, bugle, words, author="reader-1")["id"], "approve")
    decide(client, mary, submit(client, planet, words, author="copycat")["id"], "approve")
    with app.app_context():
        assert db.session.scalar(select(func.count(TrainingExample.id))
                                 .where(TrainingExample.text == words)) == 1
    response = erase(client, bugle, "reader-1")
    assert response.status_code == 200 and response.json["examples_removed"] == 1
    with app.app_context():
        assert not db.session.scalars(select(TrainingExample.text)
                                      .where(TrainingExample.text.contains(SECRET))).all()


def test_a_second_erasure_finds_nothing_left(client, history):
    site = history["site"]
    assert erase(client, site, "reader-1").status_code == 200
    events = len(client.get("/v1/events", headers=site.headers,
                            query_string={"limit": 200}).json["items"])
    again = erase(client, site, "reader-1")
    assert again.status_code == 200
    assert again.json == {"author_id": "reader-1", "comments_erased": 0, "events_emitted": 0,
                          "events_scrubbed": 0, "examples_removed": 0, "remaining": 0}
    assert len(client.get("/v1/events", headers=site.headers,
                          query_string={"limit": 200}).json["items"]) == events


def test_a_long_history_is_erased_over_several_calls(app, client, history):
    privacy = services(app).privacy
    privacy.batch_size, privacy.erase_seconds = 2, 0.0  # one batch of two per call
    answers = [erase(client, history["site"], "reader-1") for _ in range(3)]
    assert [(a.status_code, a.json["comments_erased"], a.json["remaining"])
            for a in answers] == [(202, 2, 3), (202, 2, 1), (200, 1, 0)]
    assert sum(a.json["events_emitted"] for a in answers) == 2


def test_only_the_sites_own_authors_can_be_erased(client, history):
    site, planet = history["site"], history["planet"]
    for unknown in ("nobody", "reader-1%00", "x" * 201):
        assert erase(client, site, unknown).status_code == 404
    # reader-2 writes only on the bugle: for the planet's key, no such author.
    refused = erase(client, planet, "reader-2")
    assert refused.status_code == 404 and refused.json["code"] == 404
    assert client.delete("/v1/authors/reader-2").status_code == 401
    assert client.delete("/v1/authors/reader-2",
                         headers={"Authorization": "Bearer mk_wrong"}).status_code == 401
    kept = client.get(f"/v1/comments/{history['bystander']}", headers=site.headers).json
    assert kept["text"] == "The ferry timetable is much better now."
    assert kept["author"]["name"] == "Reader-2"


def test_an_author_id_with_a_slash_is_found(app, client):
    site = held_site(app, "bugle")
    comment = submit(client, site, "Slashes in ids happen.", author="team/ada")["id"]
    assert erase(client, site, "team/ada").json["comments_erased"] == 1
    assert client.get(f"/v1/comments/{comment}", headers=site.headers).json["text"] == ""


def test_the_endpoint_is_in_the_openapi_document(client):
    spec = client.get("/openapi.json").json
    operation = spec["paths"]["/v1/authors/{author_id}"]["delete"]
    assert operation["security"] == [{"siteKey": []}]
    assert "comments_erased" in spec["components"]["schemas"]["ErasureOut"]["properties"]

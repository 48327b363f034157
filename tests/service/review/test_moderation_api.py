"""The moderation JSON API: queues, claims, decisions, audit, bulk, authors, reader flags."""

import pytest
from sqlalchemy import select

from service.extensions import db
from service.retraining.models import TrainingExample
from tests.conftest import make_site, make_user, submit

MILD = ["The council should publish the budget figures before the vote.",
        "I disagree with the columnist about the new tram line.",
        "Who pays for the bridge repairs, the city or the county?",
        "Good reporting, but the chart on page two has the years swapped.",
        "This is the third closure of the library this year."]


def queue(client, account, **params):
    response = client.get("/v1/moderation/queue", query_string=params, headers=account.headers)
    assert response.status_code == 200, response.json
    return response.json


def decide(client, account, comment_id, action, **extra):
    return client.post(f"/v1/moderation/comments/{comment_id}/decision",
                       json={"action": action, **extra}, headers=account.headers)


def test_held_comments_are_listed_most_likely_harmful_first_with_counts(
        client, held_site, moderator):
    ids = [submit(client, held_site, text)["id"] for text in MILD]
    page = queue(client, moderator)
    scores = [item["score"] for item in page["items"]]
    assert sorted(item["id"] for item in page["items"]) == sorted(ids)
    assert scores == sorted(scores, reverse=True)
    assert page["counts"] == {"pending": 5, "reported": 0, "rejected": 0, "approved": 0}
    assert page["next_cursor"] is None
    oldest = queue(client, moderator, order="oldest")
    assert [item["id"] for item in oldest["items"]] == sorted(ids)


@pytest.mark.parametrize("order", ["priority", "oldest"])
def test_keyset_pages_cover_the_queue_once(client, held_site, moderator, order):
    ids = {submit(client, held_site, f"{text} ({n})")["id"] for n in range(3) for text in MILD}
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 4, "order": order, **({"cursor": cursor} if cursor else {})}
        page = queue(client, moderator, **params)
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    assert pages == 4


def test_filters_by_article_author_label_and_text(client, held_site, moderator):
    submit(client, held_site, MILD[0], article="budget", author="ann")
    submit(client, held_site, MILD[1], article="trams", author="bob")
    submit(client, held_site, "Honestly the mayor is a complete idiot and everyone knows it.",
           article="trams", author="carl")
    assert [i["text"] for i in queue(client, moderator, article="budget")["items"]] == [MILD[0]]
    assert [i["author"]["id"] for i in queue(client, moderator, author="bob")["items"]] == ["bob"]
    assert [i["text"] for i in queue(client, moderator, q="TRAM LINE")["items"]] == [MILD[1]]
    rude = queue(client, moderator, label="toxicity")["items"]
    assert [i["author"]["id"] for i in rude] == ["carl"]
    # LIKE wildcards in the search are taken literally.
    assert queue(client, moderator, q="%")["items"] == []


def test_bad_queue_arguments_are_answered_422(client, held_site, moderator):
    for params in ({"queue": "everything"}, {"limit": 0}, {"cursor": "not-a-cursor"},
                   {"label": "rude"}, {"order": "random"}):
        response = client.get("/v1/moderation/queue", query_string=params,
                              headers=moderator.headers)
        assert response.status_code == 422, params
        assert response.json["errors"]


def test_approve_publishes_and_is_audited_and_kept_as_an_example(app, client, held_site,
                                                                  moderator):
    comment = submit(client, held_site, MILD[0])
    response = decide(client, moderator, comment["id"], "approve", note="fine")
    assert response.status_code == 200
    assert response.json["status"] == "approved"
    assert client.get(f"/v1/comments/{comment['id']}",
                      headers=held_site.headers).json["status"] == "approved"
    audit = client.get(f"/v1/moderation/comments/{comment['id']}/audit",
                       headers=moderator.headers).json["items"]
    assert [(e["actor"], e["action"], e["status_before"], e["status_after"]) for e in audit] == [
        ("classifier", "submit", None, "pending_review"),
        ("mary", "approve", "pending_review", "approved")]
    assert audit[1]["note"] == "fine"
    counts = queue(client, moderator)["counts"]
    assert counts["pending"] == 0 and counts["approved"] == 1
    with app.app_context():
        example = db.session.scalar(select(TrainingExample))
        assert example.text == MILD[0]
        assert set(example.labels().values()) == {0}


def test_reject_needs_one_of_the_sites_reasons_and_labels_the_example(app, client, held_site,
                                                                      moderator):
    comment = submit(client, held_site, "Visit my page for the best offers on watches.")
    missing = decide(client, moderator, comment["id"], "reject")
    assert missing.status_code == 422 and "reason" in missing.json["errors"]["json"]
    assert decide(client, moderator, comment["id"], "reject",
                  reason="nonsense").status_code == 422
    done = decide(client, moderator, comment["id"], "reject", reason="spam")
    assert done.status_code == 200 and done.json["status"] == "rejected"
    with app.app_context():
        example = db.session.scalar(select(TrainingExample))
        assert example.spam == 1 and example.toxicity is None


def test_a_second_decision_on_a_decided_comment_is_a_conflict(client, held_site, moderator,
                                                              second_moderator):
    comment = submit(client, held_site, MILD[0])
    assert decide(client, moderator, comment["id"], "approve").status_code == 200
    late = decide(client, second_moderator, comment["id"], "reject", reason="abuse")
    assert late.status_code == 409
    assert "approved by mary" in late.json["message"]
    audit = client.get(f"/v1/moderation/comments/{comment['id']}/audit",
                       headers=moderator.headers).json["items"]
    assert [e["action"] for e in audit] == ["submit", "approve"]


def test_a_claimed_comment_is_not_served_to_another_moderator(client, held_site, moderator,
                                                              second_moderator):
    first, second = (submit(client, held_site, text)["id"] for text in MILD[:2])
    claim = client.post(f"/v1/moderation/comments/{first}/claim", headers=moderator.headers)
    assert claim.status_code == 200 and claim.json["claimed_by"] == "mary"
    assert {i["id"] for i in queue(client, moderator)["items"]} == {first, second}
    assert [i["id"] for i in queue(client, second_moderator)["items"]] == [second]
    taken = client.post(f"/v1/moderation/comments/{first}/claim",
                        headers=second_moderator.headers)
    assert taken.status_code == 409 and "claimed by mary" in taken.json["message"]
    blocked = decide(client, second_moderator, first, "approve")
    assert blocked.status_code == 409
    assert decide(client, moderator, first, "approve").status_code == 200


def test_an_expired_claim_frees_the_comment(app, client, held_site, moderator, second_moderator):
    from datetime import timedelta

    from service.comments.models import Comment
    from service.extensions import utcnow

    comment_id = submit(client, held_site, MILD[0])["id"]
    client.post(f"/v1/moderation/comments/{comment_id}/claim", headers=moderator.headers)
    with app.app_context():
        db.session.get(Comment, comment_id).claim_expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert [i["id"] for i in queue(client, second_moderator)["items"]] == [comment_id]
    assert decide(client, second_moderator, comment_id, "approve").status_code == 200


def test_remove_and_restore_reverse_a_decision(client, held_site, moderator):
    comment_id = submit(client, held_site, MILD[0])["id"]
    decide(client, moderator, comment_id, "approve")
    assert decide(client, moderator, comment_id, "restore").status_code == 409
    removed = decide(client, moderator, comment_id, "remove", reason="abuse")
    assert removed.json["status"] == "removed"
    assert queue(client, moderator, queue="rejected")["items"][0]["id"] == comment_id
    restored = decide(client, moderator, comment_id, "restore")
    assert restored.json["status"] == "approved"
    assert queue(client, moderator)["counts"] == {"pending": 0, "reported": 0, "rejected": 0,
                                                  "approved": 1}


def test_bulk_decisions_report_each_comment(client, held_site, moderator):
    ids = [submit(client, held_site, text)["id"] for text in MILD[:3]]
    decide(client, moderator, ids[0], "approve")
    response = client.post("/v1/moderation/decisions", headers=moderator.headers,
                           json={"ids": ids, "action": "reject", "reason": "off-topic"})
    assert response.status_code == 200
    assert response.json["decided"] == ids[1:]
    assert list(response.json["failed"]) == [str(ids[0])]
    assert queue(client, moderator)["counts"]["rejected"] == 2


def test_authors_standing_decides_their_next_comments(app, client, moderator):
    site = make_site(app, "gazette")  # default thresholds
    make_user(app, "gus", "moderator", ("gazette",))
    admin = make_user(app, "root", "admin")
    first = submit(client, site, MILD[0], author="zed")
    author_id = queue(client, admin, queue="approved")["items"][0]["author_id"]
    assert first["status"] == "approved"

    def standing(value, **extra):
        return client.post(f"/v1/moderation/authors/{author_id}/standing",
                           json={"standing": value, **extra}, headers=admin.headers)

    assert standing("suspended").status_code == 422  # a suspension needs its days
    assert standing("suspended", days=3).json["standing"] == "suspended"
    assert submit(client, site, MILD[1], author="zed")["status"] == "pending_review"
    standing("banned")
    banned = submit(client, site, MILD[2], author="zed")
    assert banned["status"] == "rejected" and banned["reasons"][0]["threshold"] == "banned"
    standing("trusted")
    held = client.post("/v1/score", json={"text": "What a stupid decision by the council."},
                       headers=site.headers).json
    trusted = submit(client, site, "What a stupid decision by the council.", author="zed")
    if held["status"] == "pending_review":
        assert trusted["status"] == "approved"
    assert submit(client, site, "You pathetic idiot, I will find you and kill you.",
                  author="zed")["status"] == "rejected"  # trust does not overrule a rejection
    audit = client.get(f"/v1/moderation/comments/{first['id']}/audit",
                       headers=admin.headers).json["items"]
    assert [e["action"] for e in audit][-3:] == ["author_suspended", "author_banned",
                                                 "author_trusted"]


def test_enough_reader_flags_send_a_published_comment_back_to_review(app, client, moderator):
    site = make_site(app, "gazette")
    make_user(app, "gus", "moderator", ("gazette",))
    admin = make_user(app, "root", "admin")
    comment = submit(client, site, MILD[0])
    assert comment["status"] == "approved"

    def flag(reporter, reason="abuse"):
        return client.post(f"/v1/comments/{comment['id']}/flags", headers=site.headers,
                           json={"reason": reason, "reporter_id": reporter})

    assert flag("r1").status_code == 201
    again = flag("r1")
    assert again.status_code == 200 and again.json["counted"] is False
    assert flag("r2").json == {"comment_id": comment["id"], "counted": True, "flags": 2,
                               "status": "approved"}
    third = flag("r3", "spam")
    assert third.json["status"] == "reported"
    reported = queue(client, admin, queue="reported")
    assert [i["id"] for i in reported["items"]] == [comment["id"]]
    assert reported["counts"]["reported"] == 1
    kept = decide(client, admin, comment["id"], "approve")
    assert kept.json["status"] == "approved" and kept.json["flag_count"] == 0


def test_flags_on_an_unpublished_comment_are_a_conflict(client, held_site):
    comment = submit(client, held_site, MILD[0])
    response = client.post(f"/v1/comments/{comment['id']}/flags", headers=held_site.headers,
                           json={"reason": "abuse"})
    assert response.status_code == 409


def test_the_item_shows_the_words_that_drove_the_score(client, held_site, moderator):
    text = "Honestly the mayor is a complete idiot and everyone knows it."
    comment = submit(client, held_site, text)
    item = client.get(f"/v1/moderation/comments/{comment['id']}", headers=moderator.headers).json
    assert "idiot" in [span["text"] for span in item["spans"]]
    assert item["reject_reasons"] == ["spam", "abuse", "hate", "threat", "obscene", "off-topic",
                                      "other"]
    assert item["author_counts"] == {"pending_review": 1}


def test_without_credentials_the_api_answers_401(client):
    assert client.get("/v1/moderation/queue").status_code == 401
    bad = client.get("/v1/moderation/queue", headers={"Authorization": "Bearer mt_nope"})
    assert bad.status_code == 401 and bad.json["message"] == "Invalid moderator token."


def test_a_site_key_is_not_a_moderator_token(client, held_site):
    assert client.get("/v1/moderation/queue", headers=held_site.headers).status_code == 401


def test_a_reason_sent_with_an_approval_is_not_stored(app, client, held_site, moderator):
    comment_id = submit(client, held_site, MILD[0])["id"]
    decide(client, moderator, comment_id, "approve", reason="x" * 200)
    audit = client.get(f"/v1/moderation/comments/{comment_id}/audit",
                       headers=moderator.headers).json["items"]
    assert audit[-1]["action"] == "approve" and audit[-1]["reason"] is None


def test_a_decision_that_says_nothing_of_labels_keeps_what_is_known(app, client, held_site,
                                                                    moderator):
    text = "Honestly the mayor is a complete idiot and everyone knows it."
    first = submit(client, held_site, text, author="a1")["id"]
    second = submit(client, held_site, text, author="a2")["id"]
    decide(client, moderator, first, "reject", reason="abuse")
    decide(client, moderator, second, "reject", reason="off-topic")
    with app.app_context():
        examples = db.session.scalars(select(TrainingExample)).all()
        assert len(examples) == 1
        assert (examples[0].toxicity, examples[0].insult, examples[0].spam) == (1, 1, None)


def test_a_bad_cursor_is_reported_as_a_query_argument(client, held_site, moderator):
    response = client.get("/v1/moderation/queue", query_string={"cursor": "bm90LWpzb24"},
                          headers=moderator.headers)
    assert response.status_code == 422 and "cursor" in response.json["errors"]["query"]

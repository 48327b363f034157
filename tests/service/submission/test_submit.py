"""POST /v1/comments and GET /v1/comments/<id>, as a host site sees them."""

import pytest
from sqlalchemy import func, select

from classifier.policy import Rule
from service.comments.models import Comment
from service.extensions import db
from tests.conftest import HOLD_ALL, make_site

CLEAN = "Thanks for the clear explanation of the new bus timetable."
ABUSIVE = "You pathetic idiot, I will find you and kill you."


def comment(text=CLEAN, **extra):
    return {"article_id": "2026/11/budget", "author": {"id": "reader-1", "name": "Ada"},
            "text": text, **extra}


def stored_comments(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Comment))


def score_of(client, site, text) -> float:
    return client.post("/v1/score", json={"text": text}, headers=site.headers).json["score"]


def test_a_clean_comment_is_approved_with_its_scores(client, site):
    response = client.post("/v1/comments", json=comment(), headers=site.headers)
    assert response.status_code == 201
    body = response.json
    assert body["status"] == "approved"
    assert 0 <= body["score"] < 0.25
    assert set(body["scores"]) == {"toxicity", "severe_toxicity", "insult", "threat",
                                   "identity_attack", "obscene", "spam"}
    assert body["reasons"] == []
    assert body["article_id"] == "2026/11/budget"
    assert body["model_version"]
    assert body["created_at"].endswith("+00:00")


def test_a_threat_is_rejected_with_the_rule_that_fired_first(client, site):
    body = client.post("/v1/comments", json=comment(ABUSIVE), headers=site.headers).json
    assert body["status"] == "rejected"
    first = body["reasons"][0]
    assert first["action"] == "reject" and first["threshold"] == "reject_at"
    assert first["score"] >= first["value"]


def test_an_insult_is_held_under_the_standard_policy_and_rejected_under_strict(app, client,
                                                                                site):
    insult = "You are a pathetic idiot and a disgrace, shut up."
    body = client.post("/v1/comments", json=comment(insult), headers=site.headers).json
    assert body["status"] == "pending_review"
    assert {r["action"] for r in body["reasons"]} == {"hold"}
    strict = make_site(app, "strict", policy="strict")
    body = client.post("/v1/comments", json=comment(insult), headers=strict.headers).json
    assert body["status"] == "rejected" and body["reasons"][0]["label"] in ("insult",
                                                                            "toxicity")


def test_civil_criticism_and_mild_swearing_are_published_under_the_default_policy(client,
                                                                                   site):
    for text in ("Damn, that is a hell of a tax rise.",
                 "The minister is clueless and this plan is idiotic.",
                 "Typical lazy journalism from this paper."):
        body = client.post("/v1/comments", json=comment(text), headers=site.headers).json
        assert body["status"] == "approved", (text, body["reasons"])


def test_a_borderline_comment_waits_for_review_under_the_sites_thresholds(app, client):
    text = "What a stupid decision by the council."
    probe = make_site(app, "probe")
    score = score_of(client, probe, text)
    strict = make_site(app, "strict", rules={"any": Rule(max(score - 0.05, 0.0),
                                                         min(score + 0.05, 1.0))})
    body = client.post("/v1/comments", json=comment(text), headers=strict.headers).json
    assert body["status"] == "pending_review"
    assert body["reasons"]
    assert all(reason["score"] >= reason["value"] for reason in body["reasons"])


def test_the_stored_comment_reads_back_with_its_status(client, site):
    created = client.post("/v1/comments", json=comment(ABUSIVE), headers=site.headers).json
    fetched = client.get(f"/v1/comments/{created['id']}", headers=site.headers)
    assert fetched.status_code == 200
    assert fetched.json == created


def test_a_replay_with_the_same_client_id_answers_the_stored_comment(app, client, site):
    first = client.post("/v1/comments", json=comment(client_id="c-1"), headers=site.headers)
    again = client.post("/v1/comments", json=comment(client_id="c-1"), headers=site.headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json == first.json
    assert stored_comments(app) == 1


def test_the_same_client_id_with_other_content_is_a_conflict(app, client, site):
    client.post("/v1/comments", json=comment(client_id="c-1"), headers=site.headers)
    response = client.post("/v1/comments", json=comment("Something else", client_id="c-1"),
                           headers=site.headers)
    assert response.status_code == 409
    assert "c-1" in response.json["message"]
    assert stored_comments(app) == 1


def test_client_ids_are_per_site(client, site, other_site):
    a = client.post("/v1/comments", json=comment(client_id="c-1"), headers=site.headers)
    b = client.post("/v1/comments", json=comment("Other", client_id="c-1"),
                    headers=other_site.headers)
    assert (a.status_code, b.status_code) == (201, 201)


def test_a_reply_on_the_same_article_is_threaded(client, site):
    parent = client.post("/v1/comments", json=comment(), headers=site.headers).json
    reply = client.post("/v1/comments", json=comment("Agreed, well put.", parent_id=parent["id"]),
                        headers=site.headers)
    assert reply.status_code == 201
    assert reply.json["parent_id"] == parent["id"]


def test_a_reply_to_a_comment_on_another_article_is_refused(app, client, site):
    parent = client.post("/v1/comments", json=comment(), headers=site.headers).json
    response = client.post("/v1/comments", json=comment(
        "Agreed.", article_id="other-story", parent_id=parent["id"]), headers=site.headers)
    assert response.status_code == 422
    assert "another article" in response.json["errors"]["json"]["parent_id"][0]
    assert stored_comments(app) == 1


def test_a_site_cannot_read_or_reply_to_another_sites_comment(app, client, site, other_site):
    theirs = client.post("/v1/comments", json=comment(), headers=other_site.headers).json
    read = client.get(f"/v1/comments/{theirs['id']}", headers=site.headers)
    assert read.status_code == 404
    assert read.json["code"] == 404
    reply = client.post("/v1/comments", json=comment(parent_id=theirs["id"]), headers=site.headers)
    assert reply.status_code == 422
    assert stored_comments(app) == 1


def test_article_title_and_url_are_kept_and_updated(app, client, site):
    client.post("/v1/comments", json=comment(article_title="Budget day"), headers=site.headers)
    client.post("/v1/comments", json=comment("Second.", article_title="Budget day: live",
                                             article_url="https://news.example/budget"),
                headers=site.headers)
    with app.app_context():
        from service.comments.models import Article
        articles = db.session.scalars(select(Article)).all()
    assert [(a.title, a.url) for a in articles] == [("Budget day: live", "https://news.example/budget")]


def test_text_is_stored_trimmed_and_unescaped(client, site):
    text = "  <script>alert('x')</script> & friends  "
    body = client.post("/v1/comments", json=comment(text), headers=site.headers).json
    assert body["text"] == "<script>alert('x')</script> & friends"


def test_two_sites_using_the_same_article_and_author_ids_stay_apart(app, client, site, other_site):
    from service.comments.models import Article, Author
    client.post("/v1/comments", json=comment(article_title="Ours"), headers=site.headers)
    client.post("/v1/comments", json=comment(article_title="Theirs"), headers=other_site.headers)
    with app.app_context():
        articles = db.session.execute(select(Article.site_id, Article.title)).all()
        authors = db.session.execute(select(Author.site_id, Author.external_id)).all()
    assert sorted(articles) == [(site.id, "Ours"), (other_site.id, "Theirs")]
    assert sorted(authors) == [(site.id, "reader-1"), (other_site.id, "reader-1")]


@pytest.mark.parametrize("text, language", [
    ("Gracias por el artículo, explica muy bien los cambios en el transporte público.", "es"),
    ("Merci pour cet article très clair sur les travaux de la mairie.", "fr"),
    ("Danke für den Bericht, endlich erklärt jemand die neuen Buslinien.", "de"),
])
def test_a_comment_in_a_language_the_model_did_not_learn_waits_for_review(client, site, text,
                                                                          language):
    body = client.post("/v1/comments", json=comment(text), headers=site.headers).json
    assert body["language"] == language
    assert body["status"] == "pending_review"
    assert {"label": "language", "score": None, "action": "hold", "threshold": "unsupported_language",
            "value": None} in body["reasons"]


def test_an_english_comment_is_marked_english(client, site):
    body = client.post("/v1/comments", json=comment(), headers=site.headers).json
    assert (body["language"], body["status"]) == ("en", "approved")


def test_a_site_that_never_rejects_holds_even_the_most_abusive_comment(app, client):
    never_rejects = make_site(app, "holds-everything", rules=HOLD_ALL)
    text = "you worthless f*cking idiot, shut up, I will kill you and everyone like you"
    body = client.post("/v1/comments", json=comment(text), headers=never_rejects.headers).json
    assert body["status"] == "pending_review"
    assert 0.99 < body["score"] < 1.0

"""The Perspective API as this service answers it: attributes mapped onto the model's labels,
errors in Google's shape, nothing stored by analyze, suggestions stored once per token."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from service.comments.models import Comment
from service.extensions import db
from service.retraining.models import TrainingExample
from service.sites.models import Site
from tests.conftest import make_site

ABUSE = "You are a pathetic idiot and everyone here hates you."
CIVIL = "The council should publish the tender documents for the bridge."


def key_of(site) -> str:
    return site.headers["Authorization"].split()[1]


def analyze(client, site, body, *, via="query"):
    if via == "query":
        return client.post(f"/v1alpha1/comments:analyze?key={key_of(site)}", json=body)
    return client.post("/v1alpha1/comments:analyze", json=body, headers=site.headers)


def body(text: str, *attributes: str, **extra) -> dict:
    return {"comment": {"text": text},
            "requestedAttributes": {name: {} for name in attributes or ("TOXICITY",)}, **extra}


@pytest.mark.parametrize("via", ["query", "bearer"])
def test_analyze_scores_each_requested_attribute_from_its_label(client, app, via):
    site = make_site(app, "bugle")
    attributes = ("TOXICITY", "SEVERE_TOXICITY", "INSULT", "THREAT", "IDENTITY_ATTACK",
                  "PROFANITY", "SPAM")
    answer = analyze(client, site, body(ABUSE, *attributes, languages=["en"]), via=via)
    assert answer.status_code == 200, answer.json
    scores = {name: value["summaryScore"]["value"]
              for name, value in answer.json["attributeScores"].items()}
    assert set(scores) == set(attributes)
    assert all(value["summaryScore"]["type"] == "PROBABILITY"
               for value in answer.json["attributeScores"].values())
    # The same numbers the service's own scoring API gives for the mapped labels.
    own = client.post("/v1/score", headers=site.headers, json={"text": ABUSE}).json["scores"]
    assert scores["INSULT"] == pytest.approx(own["insult"])
    assert scores["PROFANITY"] == pytest.approx(own["obscene"])
    assert scores["TOXICITY"] == pytest.approx(own["toxicity"]) and scores["TOXICITY"] > 0.8
    civil = analyze(client, site, body(CIVIL)).json
    assert civil["attributeScores"]["TOXICITY"]["summaryScore"]["value"] < 0.5
    assert civil["languages"] == ["en"] and civil["detectedLanguages"] == ["en"]


def test_a_score_threshold_leaves_lower_attributes_out_and_the_token_comes_back(client, app):
    site = make_site(app, "bugle")
    answer = analyze(client, site, {
        "comment": {"text": CIVIL}, "clientToken": "comment:7",
        "requestedAttributes": {"TOXICITY": {"scoreThreshold": 0.9}, "SPAM": {}}}).json
    assert set(answer["attributeScores"]) == {"SPAM"}
    assert answer["clientToken"] == "comment:7"


def test_span_scores_mark_the_words_in_utf16_offsets(client, app):
    site = make_site(app, "bugle")
    text = "🙂🙂 " + ABUSE  # two characters outside the BMP: four UTF-16 code units
    answer = analyze(client, site, body(text, "TOXICITY", spanAnnotations=True)).json
    spans = answer["attributeScores"]["TOXICITY"]["spanScores"]
    assert spans, "no span for an abusive comment"
    encoded = text.encode("utf-16-le")
    words = {encoded[span["begin"] * 2:span["end"] * 2].decode("utf-16-le") for span in spans}
    assert words & {"idiot", "pathetic", "hates"}, words
    assert all(0 <= span["score"]["value"] <= 1 for span in spans)


@pytest.mark.parametrize("payload, message", [
    (body(CIVIL, "FLIRTATION"), "Unknown requested attribute: FLIRTATION"),
    (body(CIVIL, languages=["de"]), "Attribute TOXICITY does not support request languages: de"),
    ({"comment": {"text": CIVIL}, "requestedAttributes": {"TOXICITY": {"scoreType": "RAW"}}},
     "Requested score type RAW is not supported by attribute TOXICITY"),
    ({"requestedAttributes": {"TOXICITY": {}}}, "comment: Missing data for required field."),
    ({"comment": {"text": ""}, "requestedAttributes": {"TOXICITY": {}}}, "comment.text"),
])
def test_what_is_not_supported_answers_400_in_googles_shape(client, app, payload, message):
    site = make_site(app, "bugle")
    answer = analyze(client, site, payload)
    assert answer.status_code == 400
    error = answer.json["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT"
    assert message in error["message"], error["message"]


def test_a_wrong_key_answers_as_google_does(client, app):
    make_site(app, "bugle")
    answer = client.post("/v1alpha1/comments:analyze?key=mk_nope_nope", json=body(CIVIL))
    assert answer.status_code == 400
    assert answer.json["error"]["message"] == "API key not valid. Please pass a valid API key."


def test_analyze_stores_nothing(client, app):
    site = make_site(app, "bugle")

    def counts():
        with app.app_context():
            return (db.session.scalar(select(func.count(Comment.id))),
                    db.session.scalar(select(func.count(TrainingExample.id))))

    before = counts()
    assert analyze(client, site, body(ABUSE, doNotStore=False)).status_code == 200
    assert counts() == before


def test_suggestions_are_examples_of_the_site_one_per_client_token(client, app):
    site = make_site(app, "bugle")

    def suggest(text: str, value: float, token: str = "comment:42"):
        return client.post(f"/v1alpha1/comments:suggestscore?key={key_of(site)}", json={
            "comment": {"text": text}, "languages": ["en"], "clientToken": token,
            "attributeScores": {"TOXICITY": {"summaryScore": {"value": value}}}})

    answer = suggest("Sack the lot of them.", 0)
    assert answer.status_code == 200, answer.json
    assert answer.json == {"clientToken": "comment:42", "detectedLanguages": ["en"],
                           "requestedLanguages": ["en"]}
    assert suggest("Sack the lot of them.", 1).status_code == 200  # a later verdict
    assert suggest("Sack the whole lot of them.", 1).status_code == 200  # the text edited
    assert suggest("A different comment entirely.", 0, token="comment:43").status_code == 200
    with app.app_context():
        rows = db.session.execute(select(TrainingExample.text, TrainingExample.toxicity,
                                         TrainingExample.insult, TrainingExample.source,
                                         TrainingExample.client_token)
                                  .order_by(TrainingExample.id)).all()
        site_id = db.session.scalar(select(Site.id).where(Site.name == "bugle"))
    assert [(r.text, r.toxicity, r.insult, r.client_token) for r in rows] == [
        ("Sack the whole lot of them.", 1, None, "comment:42"),
        ("A different comment entirely.", 0, None, "comment:43")]
    assert {r.source for r in rows} == {f"perspective:site{site_id}"}


def test_a_suggestion_never_touches_another_sites_example_nor_a_held_out_one(client, app):
    from service.retraining.services import upsert_example
    bugle, planet = make_site(app, "bugle"), make_site(app, "planet")
    with app.app_context():
        upsert_example(db.session, "The bugle's own words.", {"toxicity": 1},
                       source=f"moderation:site{bugle.id}", site_id=bugle.id)
        upsert_example(db.session, "Held out for evaluation.", {"toxicity": 1},
                       source="seed")
        db.session.execute(update(TrainingExample).where(
            TrainingExample.text == "Held out for evaluation.").values(holdout=True))
        db.session.commit()

    def suggest(text: str, token: str):
        answer = client.post(f"/v1alpha1/comments:suggestscore?key={key_of(planet)}", json={
            "comment": {"text": text}, "clientToken": token,
            "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0}}}})
        assert answer.status_code == 200, answer.json

    suggest("The bugle's own words.", "t1")
    suggest("Held out for evaluation.", "t2")
    suggest("Something else entirely.", "t1")  # the token moves on: nothing of bugle's goes
    with app.app_context():
        rows = {row.text: (row.site_id, row.toxicity) for row in db.session.execute(
            select(TrainingExample.text, TrainingExample.site_id, TrainingExample.toxicity))}
    assert rows["The bugle's own words."] == (bugle.id, 1)
    assert rows["Held out for evaluation."] == (None, 1)
    assert rows["Something else entirely."] == (planet.id, 0)


def test_rate_limits_answer_resource_exhausted(app_config, tmp_path):
    from tests.conftest import fresh_app
    config = {**app_config, "RATE_LIMITS": "1", "RATE_LIMIT_SUBMISSIONS": "2/hour",
              "REDIS_URL": ""}
    with fresh_app(config) as limited:
        site = make_site(limited, "bugle")
        client = limited.test_client()
        answers = [analyze(client, site, body(CIVIL)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    error = answers[-1].json["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED" and error["code"] == 429
    assert int(answers[-1].headers["Retry-After"]) > 0

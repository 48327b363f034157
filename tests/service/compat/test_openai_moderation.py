"""OpenAI's moderation endpoint as this service answers it: categories from the model's
labels (0 for what it does not model), `flagged` by the site's policy, OpenAI's errors."""

from __future__ import annotations

import pytest

from service.compat.openai_moderation import CATEGORIES
from service.scoring.schemas import MAX_BATCH
from tests.conftest import make_site

THREAT = "I know where you live and I am going to hurt you badly."
CIVIL = "The council should publish the tender documents for the bridge."


def moderate(client, site, payload):
    return client.post("/v1/moderations", headers=site.headers, json=payload)


def test_each_input_gets_every_category_in_order(client, app):
    site = make_site(app, "bugle")
    answer = moderate(client, site, {"input": [THREAT, CIVIL], "model": "omni-moderation-latest"})
    assert answer.status_code == 200, answer.json
    assert answer.json["id"].startswith("modr-")
    assert answer.json["model"].startswith("comment-moderation-")
    threat, civil = answer.json["results"]
    for result in (threat, civil):
        assert set(result["categories"]) == set(CATEGORIES) == set(result["category_scores"])
        assert all(types == ["text"] for types in result["category_applied_input_types"].values())
    own = client.post("/v1/score", headers=site.headers, json={"text": THREAT}).json["scores"]
    assert threat["category_scores"]["violence"] == pytest.approx(own["threat"])
    assert threat["category_scores"]["harassment"] == pytest.approx(own["insult"])
    assert threat["category_scores"]["hate/threatening"] == pytest.approx(
        min(own["identity_attack"], own["threat"]))
    unmodelled = [name for name, labels in CATEGORIES.items() if not labels]
    assert all(threat["category_scores"][name] == 0 and not threat["categories"][name]
               for name in unmodelled)
    assert threat["flagged"] and threat["categories"]["violence"]
    assert not civil["flagged"] and not any(civil["categories"].values())


def test_flagged_follows_the_sites_policy(client, app):
    text = "Damn, that is a hell of a tax rise."
    strict = make_site(app, "strict-site", policy="strict")
    permissive = make_site(app, "permissive-site", policy="permissive")
    statuses = {name: client.post("/v1/score", headers=site.headers, json={"text": text})
                .json["status"] for name, site in (("strict", strict),
                                                    ("permissive", permissive))}
    flagged = {name: moderate(client, site, {"input": text}).json["results"][0]["flagged"]
               for name, site in (("strict", strict), ("permissive", permissive))}
    assert statuses["strict"] != statuses["permissive"]  # the policies disagree on it
    assert flagged == {name: status != "approved" for name, status in statuses.items()}


def test_text_parts_are_read_and_images_refused_in_openais_shape(client, app):
    site = make_site(app, "bugle")
    parts = moderate(client, site, {"input": [{"type": "text", "text": THREAT}]})
    assert parts.status_code == 200 and parts.json["results"][0]["flagged"]
    image = moderate(client, site, {"input": [{"type": "image_url",
                                               "image_url": {"url": "https://x.test/a.png"}}]})
    assert image.status_code == 400
    assert image.json == {"error": {"message": "input: only text is moderated here (no images)",
                                    "type": "invalid_request_error", "param": None,
                                    "code": None}}


@pytest.mark.parametrize("payload", [{}, {"input": []}, {"input": 7},
                                     {"input": ["x"] * (MAX_BATCH + 1)}, {"input": [""]}])
def test_bad_input_answers_400(client, app, payload):
    site = make_site(app, "bugle")
    answer = moderate(client, site, payload)
    assert answer.status_code == 400
    assert answer.json["error"]["type"] == "invalid_request_error"
    assert "input" in answer.json["error"]["message"]


def test_a_wrong_key_is_an_invalid_api_key(client, app):
    answer = client.post("/v1/moderations", json={"input": CIVIL},
                         headers={"Authorization": "Bearer mk_nope_nope"})
    assert answer.status_code == 401
    assert answer.json["error"]["code"] == "invalid_api_key"


def test_each_input_counts_against_the_sites_budget(app_config):
    from tests.conftest import fresh_app
    config = {**app_config, "RATE_LIMITS": "1", "RATE_LIMIT_SUBMISSIONS": "5/hour",
              "REDIS_URL": ""}
    with fresh_app(config) as limited:
        site = make_site(limited, "bugle")
        client = limited.test_client()
        first = moderate(client, site, {"input": [CIVIL] * 4})
        second = moderate(client, site, {"input": [CIVIL] * 2})
    assert first.status_code == 200 and second.status_code == 429
    assert second.json["error"]["code"] == "rate_limit_exceeded"

"""POST /v1/score and /v1/score/batch: scores without storing, and the model follows ACTIVE."""

import time

import pytest

from classifier import ModelRegistry
from service import create_app
from service.container import services
from tests.service.submission.test_submit import stored_comments


def test_score_returns_scores_decision_and_spans_and_stores_nothing(app, client, site):
    text = "Great piece. You are a 1d10t though."
    response = client.post("/v1/score", json={"text": text}, headers=site.headers)
    assert response.status_code == 200
    body = response.json
    assert body["status"] in ("pending_review", "rejected")
    assert body["scores"]["insult"] > 0.5
    insult_spans = [s for s in body["spans"] if s["label"] == "insult"]
    assert insult_spans[0]["text"] == "1d10t"
    assert text[insult_spans[0]["start"]:insult_spans[0]["end"]] == "1d10t"
    assert stored_comments(app) == 0


def test_batch_answers_in_the_same_order(client, site):
    texts = ["Lovely photos of the harbour.", "You absolute moron.",
             "Earn $900 a day from home at quickcash247 dot biz"]
    response = client.post("/v1/score/batch", json={"texts": texts}, headers=site.headers)
    assert response.status_code == 200
    results = response.json["results"]
    assert len(results) == 3
    assert results[0]["status"] == "approved"
    assert results[1]["scores"]["insult"] > 0.5
    assert max(results[2]["scores"], key=results[2]["scores"].get) == "spam"


def test_a_batch_of_500_ordinary_comments_fits(client, site):
    # About 300 characters each: 150 KB, past every other endpoint's 64 KB cap.
    texts = [f"Comment {n}: the council's transport plan leaves out the villages, and the "
             f"bus timetable in the appendix is from last year. Could the paper ask why the "
             f"consultation closed before the summer holidays were over? Many of us were "
             f"away and could not reply in time, which seems unfair." for n in range(500)]
    response = client.post("/v1/score/batch", json={"texts": texts}, headers=site.headers)
    assert response.status_code == 200, response.json
    assert len(response.json["results"]) == 500
    assert "spans" not in response.json["results"][0]


def test_a_batch_returns_spans_when_asked(client, site):
    response = client.post("/v1/score/batch", headers=site.headers,
                           json={"texts": ["You absolute moron.", "Lovely harbour."],
                                 "spans": True})
    assert response.status_code == 200
    insult, civil = response.json["results"]
    assert any(span["text"] == "moron" for span in insult["spans"])
    assert civil["spans"] == []


@pytest.mark.parametrize("texts", [[], ["ok"] * 501, ["ok", ""], "not a list"])
def test_batch_refuses_empty_oversized_or_malformed_lists(client, site, texts):
    response = client.post("/v1/score/batch", json={"texts": texts}, headers=site.headers)
    assert response.status_code == 422
    assert "texts" in response.json["errors"]["json"]


def test_scoring_needs_a_key(client):
    assert client.post("/v1/score", json={"text": "hi"}).status_code == 401


def test_activating_another_version_reaches_a_running_app_without_restart(app_config, tmp_path,
                                                                            seed_model):
    registry = ModelRegistry(tmp_path / "models")
    first = registry.save(seed_model.model, {})
    registry.activate(first)
    app = create_app({**app_config, "MODEL_DIR": str(registry.root)})
    scoring = services(app).scoring
    scoring.refresh_seconds = 0.0
    assert scoring.current().version == first
    time.sleep(0.01)  # a new mtime for the ACTIVE pointer
    second = registry.save(seed_model.model, {})
    registry.activate(second)
    assert scoring.current().version == second


def test_a_tampered_active_model_is_not_served(app_config, tmp_path, seed_model):
    registry = ModelRegistry(tmp_path / "models")
    version = registry.save(seed_model.model, {})
    registry.activate(version)
    artifact = registry.root / version / "model.joblib"
    artifact.write_bytes(artifact.read_bytes()[:-10])
    app = create_app({**app_config, "MODEL_DIR": str(registry.root)})
    assert services(app).scoring.ready is False

"""The gate, promotion with and without an override, rollback, artifact verification, and
threshold proposals, as an admin meets them through the API."""

import json

import pytest
from sqlalchemy import select, update

from classifier import LABELS, ModelRegistry
from classifier.features import FEATURES_VERSION
from service.extensions import db
from service.retraining.models import ModelAuditEntry, TrainingExample
from tests.conftest import make_site
from tests.service.retraining.conftest import run_queued_job


def _train(app, admin, **options) -> str:
    response = app.test_client().post("/v1/admin/models", headers=admin.headers, json=options)
    assert response.status_code == 202, response.json
    job = run_queued_job(app)
    assert job.status == "succeeded", job.error
    return job.model_version


@pytest.fixture
def active_and_worse(cli_app, admin):
    """An active model, and a candidate trained without a single harmful example: worse on
    every label, so the gate holds it back."""
    active = _train(cli_app, admin)
    with cli_app.app_context():
        harmful = [getattr(TrainingExample, label) == 1 for label in LABELS]
        db.session.execute(update(TrainingExample).where(
            TrainingExample.holdout.is_(False), db.or_(*harmful)).values(excluded=True))
        db.session.commit()
    worse = _train(cli_app, admin)
    return active, worse


def test_the_gate_holds_back_a_worse_candidate_and_says_why(cli_app, admin, active_and_worse,
                                                            training_config):
    active, worse = active_and_worse
    client = cli_app.test_client()
    report = client.get(f"/v1/admin/models/{worse}", headers=admin.headers).json
    assert report["status"] == "held" and report["baseline_version"] == active
    assert report["gate"]["passed"] is False
    assert any("below the active model" in reason for reason in report["gate"]["reasons"])
    # Only written examples here: the report says that too few real decisions is why.
    assert report["gate"]["advice"].startswith("The candidate learned from 0 real comments")
    assert ModelRegistry(training_config["MODEL_DIR"]).active_version() == active

    refused = client.post(f"/v1/admin/models/{worse}/promote", headers=admin.headers, json={})
    assert refused.status_code == 409
    assert "held back" in refused.json["message"] and "Give a reason" in refused.json["message"]
    assert ModelRegistry(training_config["MODEL_DIR"]).active_version() == active


def test_an_override_needs_a_reason_and_is_audited_then_rollback_restores(
        cli_app, admin, active_and_worse, training_config):
    active, worse = active_and_worse
    client = cli_app.test_client()
    promoted = client.post(f"/v1/admin/models/{worse}/promote", headers=admin.headers,
                           json={"reason": "  testing the override path  "})
    assert promoted.status_code == 200, promoted.json
    assert promoted.json["action"] == "override"
    assert promoted.json["previous_version"] == active
    registry = ModelRegistry(training_config["MODEL_DIR"])
    assert registry.active_version() == worse

    back = client.post("/v1/admin/models/rollback", headers=admin.headers, json={})
    assert back.status_code == 200 and back.json["version"] == active
    assert registry.active_version() == active
    statuses = {m["version"]: m["status"]
                for m in client.get("/v1/admin/models", headers=admin.headers).json["items"]}
    assert statuses == {active: "active", worse: "rolled_back"}
    with cli_app.app_context():
        log = [(e.action, e.version, e.actor, e.reason) for e in db.session.scalars(
            select(ModelAuditEntry).order_by(ModelAuditEntry.id))]
    assert ("override", worse, "ada", "testing the override path") in log
    assert log[-1] == ("rollback", active, "ada", None)


def test_a_tampered_artifact_is_never_promoted(cli_app, admin, training_config):
    active = _train(cli_app, admin)
    candidate = _train(cli_app, admin, promote=False)
    artifact = ModelRegistry(training_config["MODEL_DIR"]).root / candidate / "model.joblib"
    artifact.write_bytes(artifact.read_bytes()[:-1] + b"\0")
    response = cli_app.test_client().post(f"/v1/admin/models/{candidate}/promote",
                                          headers=admin.headers, json={})
    assert response.status_code == 409 and "sha256" in response.json["message"]
    assert ModelRegistry(training_config["MODEL_DIR"]).active_version() == active


def test_a_version_trained_on_other_features_is_listed_as_such_and_never_promoted(
        cli_app, admin, training_config):
    active = _train(cli_app, admin)
    candidate = _train(cli_app, admin, promote=False)
    path = ModelRegistry(training_config["MODEL_DIR"]).root / candidate / "metadata.json"
    metadata = json.loads(path.read_text())
    del metadata["features_version"]  # saved before the definition was recorded
    path.write_text(json.dumps(metadata))
    client = cli_app.test_client()
    listed = {m["version"]: m["features_version"]
              for m in client.get("/v1/admin/models", headers=admin.headers).json["items"]}
    assert listed == {active: FEATURES_VERSION, candidate: 1}
    response = client.post(f"/v1/admin/models/{candidate}/promote", headers=admin.headers,
                           json={"reason": "try it anyway"})
    assert response.status_code == 409 and "retrain" in response.json["message"]
    assert ModelRegistry(training_config["MODEL_DIR"]).active_version() == active


def test_unknown_or_malformed_versions_are_not_found(cli_app, admin):
    client = cli_app.test_client()
    for version in ("20990101T000000Z-abcdef", "..%2F..%2Fetc", "x" * 40):
        assert client.get(f"/v1/admin/models/{version}", headers=admin.headers).status_code \
            == 404
        assert client.post(f"/v1/admin/models/{version}/promote", headers=admin.headers,
                           json={}).status_code == 404


def test_threshold_proposals_meet_the_targets_and_apply_per_site(cli_app, admin):
    _train(cli_app, admin)
    site = make_site(cli_app, "daily-bugle")
    client = cli_app.test_client()
    response = client.post("/v1/admin/thresholds/proposals", headers=admin.headers,
                           json={"min_rejected_precision": 0.97, "max_approved_harmful": 0.05})
    assert response.status_code == 200, response.json
    proposals = response.json
    overall = proposals["overall"]
    assert overall["approve_below"] <= overall["reject_at"]
    if overall["feasible"]:
        assert overall["rejected_precision"] >= 0.97 or overall["rejected_rate"] == 0
    assert overall["approved_harmful_rate"] <= 0.05
    assert overall["approved_rate"] + overall["review_rate"] + overall["rejected_rate"] == \
        pytest.approx(1.0, abs=1e-3)
    [mine] = proposals["sites"]
    assert mine["site"] == site.name and mine["basis"] == "all"  # no decisions of its own yet

    applied = client.put(f"/v1/admin/sites/{site.name}/thresholds", headers=admin.headers,
                         json={"approve_below": overall["approve_below"],
                               "reject_at": overall["reject_at"]})
    assert applied.status_code == 200
    assert applied.json == {"approve_below": overall["approve_below"],
                            "reject_at": overall["reject_at"]}
    crossed = client.put(f"/v1/admin/sites/{site.name}/thresholds", headers=admin.headers,
                         json={"approve_below": 0.9, "reject_at": 0.2})
    assert crossed.status_code == 422


def test_rolling_back_to_a_version_whose_files_are_gone_is_refused(cli_app, admin,
                                                                   training_config):
    import shutil
    first = _train(cli_app, admin)
    second = _train(cli_app, admin, promote=False)
    client = cli_app.test_client()
    assert client.post(f"/v1/admin/models/{second}/promote", headers=admin.headers,
                       json={}).status_code == 200
    shutil.rmtree(ModelRegistry(training_config["MODEL_DIR"]).root / first)
    refused = client.post("/v1/admin/models/rollback", headers=admin.headers, json={})
    assert refused.status_code == 409 and "cannot be served" in refused.json["message"]
    assert ModelRegistry(training_config["MODEL_DIR"]).active_version() == second

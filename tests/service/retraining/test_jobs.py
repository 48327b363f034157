"""Training jobs through the admin API and the worker: queued, run in a child process,
followed to the end; cancelled; failed without leaving a model behind."""

import sys
from datetime import timedelta

import pytest

from classifier import ModelRegistry
from service.container import services
from service.extensions import db, utcnow
from service.retraining.jobs import STALE_AFTER, JobCancelled, JobProgress, JobRunner
from service.retraining.models import JobStatus, TrainingJob
from tests.conftest import make_user, sign_in
from tests.service.retraining.conftest import run_queued_job


def _versions(config) -> list[str]:
    return [v["version"] for v in ModelRegistry(config["MODEL_DIR"]).versions()]


def test_an_admin_starts_training_and_the_worker_runs_it(cli_app, admin, training_config):
    client = cli_app.test_client()
    response = client.post("/v1/admin/models", headers=admin.headers, json={"promote": True})
    assert response.status_code == 202, response.json
    job = response.json
    assert job["status"] == "queued" and job["kind"] == "train"
    assert response.headers["Location"].endswith(f"/v1/admin/jobs/{job['id']}")
    # One training at a time.
    again = client.post("/v1/admin/models", headers=admin.headers, json={})
    assert again.status_code == 409 and f"job {job['id']}" in again.json["message"]

    # The worker's loop: claim the job, run it in a process of its own, watch it end.
    with cli_app.app_context():
        runner = JobRunner(db.session, name="test-worker", env=training_config, poll_seconds=0.1)
        assert runner.run_once() is True
        assert runner.run_once() is False  # nothing else queued

    done = client.get(f"/v1/admin/jobs/{job['id']}", headers=admin.headers).json
    assert done["status"] == "succeeded", done["error"]
    assert done["progress"] == 1.0 and "promoted" in done["stage"]
    version = done["model_version"]
    assert done["result"]["gate"]["passed"] is True
    models = client.get("/v1/admin/models", headers=admin.headers).json["items"]
    assert [(m["version"], m["status"]) for m in models] == [(version, "active")]
    report = client.get(f"/v1/admin/models/{version}", headers=admin.headers).json
    assert report["report"]["decisions"]["rows"] == report["metadata"]["training_data"]["eval_rows"]
    assert set(report["report"]["labels"]["any"]) >= {"roc_auc", "pr_auc"}
    # Measured at each label's own thresholds under the default policy.
    assert set(report["report"]["labels"]["threat"]) >= {"precision_at_reject",
                                                         "recall_at_review"}


def test_a_job_whose_process_dies_is_marked_failed_and_saves_nothing(cli_app, admin,
                                                                     training_config):
    client = cli_app.test_client()
    job = client.post("/v1/admin/models", headers=admin.headers, json={}).json
    # The child is killed the hard way, as the kernel's OOM killer would.
    suicide = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]
    with cli_app.app_context():
        JobRunner(db.session, name="test-worker", env=training_config,
                  command=suicide).run_once()
    failed = client.get(f"/v1/admin/jobs/{job['id']}", headers=admin.headers).json
    assert failed["status"] == "failed"
    assert "killed by signal SIGKILL" in failed["error"]
    assert _versions(training_config) == []


def test_a_job_that_raises_fails_with_its_error(cli_app, admin, training_config, small_corpus):
    for path in small_corpus.glob("*.csv"):  # a seed corpus too small to learn from
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join(lines[:1]))
    next(small_corpus.glob("*.csv")).write_text(
        "text,toxicity,severe_toxicity,insult,threat,identity_attack,obscene,spam\n"
        "hello there,0,0,0,0,0,0,0\n")
    cli_app.test_client().post("/v1/admin/models", headers=admin.headers, json={})
    job = run_queued_job(cli_app)
    assert job.status == "failed"
    assert "need at least 20 training examples" in job.error
    assert _versions(training_config) == []


def test_cancelling_a_queued_job_ends_it_and_a_running_one_stops_at_its_next_step(
        cli_app, admin, training_config):
    client = cli_app.test_client()
    queued = client.post("/v1/admin/models", headers=admin.headers, json={}).json
    cancelled = client.post(f"/v1/admin/jobs/{queued['id']}/cancel", headers=admin.headers)
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert client.post(f"/v1/admin/jobs/{queued['id']}/cancel",
                       headers=admin.headers).status_code == 409

    running = client.post("/v1/admin/models", headers=admin.headers, json={}).json
    with cli_app.app_context():
        jobs = services(cli_app).jobs
        jobs.claim_next("test-worker")
        assert jobs.cancel(running["id"]).cancel_requested is True
        job = services(cli_app).job_executor.execute(running["id"])
    assert job.status == "cancelled"
    assert _versions(training_config) == []


def test_only_admins_reach_the_admin_api(cli_app, admin):
    moderator = make_user(cli_app, "mo", "moderator")
    client = cli_app.test_client()
    for method, path in [("get", "/v1/admin/models"), ("post", "/v1/admin/models"),
                         ("get", "/v1/admin/jobs/1"), ("post", "/v1/admin/models/rollback"),
                         ("get", "/v1/admin/examples"), ("get", "/v1/admin/shadow"),
                         ("post", "/v1/admin/thresholds/proposals")]:
        kwargs = {"json": {}} if method == "post" else {}
        assert getattr(client, method)(path, headers=moderator.headers, **kwargs).status_code \
            == 403, path
        assert getattr(client, method)(path, **kwargs).status_code == 401, path


@pytest.mark.parametrize("body", [{"promote": "maybe"}, {"rescore_pending": [1]}])
def test_bad_training_options_are_refused(cli_app, admin, body):
    response = cli_app.test_client().post("/v1/admin/models", headers=admin.headers, json=body)
    assert response.status_code == 422
    assert list(response.json["errors"]["json"]) == list(body)


def test_a_job_whose_worker_died_is_failed_and_does_not_block_the_next(cli_app, admin):
    client = cli_app.test_client()
    job = client.post("/v1/admin/models", headers=admin.headers, json={}).json
    with cli_app.app_context():
        jobs = services(cli_app).jobs
        jobs.claim_next("a-worker-that-dies")
        db.session.execute(db.update(TrainingJob).where(TrainingJob.id == job["id"])
                           .values(heartbeat_at=utcnow() - STALE_AFTER - timedelta(seconds=1)))
        db.session.commit()
    again = client.post("/v1/admin/models", headers=admin.headers, json={})
    assert again.status_code == 202, again.json
    dead = client.get(f"/v1/admin/jobs/{job['id']}", headers=admin.headers).json
    assert dead["status"] == "failed" and "stopped" in dead["error"]


def test_a_running_job_stops_when_cancelled_and_not_after_saving(cli_app, admin,
                                                                 training_config):
    client = cli_app.test_client()
    job = client.post("/v1/admin/models", headers=admin.headers, json={}).json
    with cli_app.app_context():
        jobs = services(cli_app).jobs
        jobs.claim_next("test-worker")
        progress = JobProgress(db.session, job["id"], min_interval=0)
        progress("fitting the toxicity head", 0.3)  # running: nothing asked yet
        jobs.cancel(job["id"])
        with pytest.raises(JobCancelled):
            progress("fitting the insult head", 0.4)
        jobs.finish(job["id"], JobStatus.CANCELLED, stage="cancelled")

    saving = client.post("/v1/admin/models", headers=admin.headers, json={}).json
    with cli_app.app_context():
        jobs.claim_next("test-worker")
        progress = JobProgress(db.session, saving["id"], min_interval=0)
        progress.saved()
    refused = client.post(f"/v1/admin/jobs/{saving['id']}/cancel", headers=admin.headers)
    assert refused.status_code == 409 and "can no longer be cancelled" in refused.json["message"]


def _real_comments(path, n=300):
    """Imported comments of our own making, half of them insults."""
    import csv

    from classifier import LABELS
    places = ["Leeds", "Bristol", "Hull", "Derby", "Bath", "York", "Luton", "Wells", "Ely", "Ripon"]
    topics = ["bus lanes", "library hours", "school meals", "bin rounds", "parking fees"]
    insults = ["clown", "halfwit", "moron", "buffoon", "imbecile", "muppet"]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", *LABELS])
        writer.writeheader()
        for i in range(n):
            place, topic = places[i % len(places)], topics[(i // 10) % len(topics)]
            bad = i % 2 == 0
            text = (f"Only a {insults[i % len(insults)]} like you would defend the {topic} in "
                    f"{place}, comment {i}" if bad else
                    f"The {topic} change in {place} looks sensible to me, comment {i}")
            writer.writerow({"text": text, **{label: 0 for label in LABELS},
                             "toxicity": int(bad), "insult": int(bad)})
    return path


def test_the_gate_reports_real_comments_apart_and_is_decided_on_them(cli_app, admin, tmp_path):
    runner = cli_app.test_cli_runner()
    imported = runner.invoke(args=["data", "import", str(_real_comments(tmp_path / "real.csv")),
                                   "--format", "csv"])
    assert imported.exit_code == 0, imported.output
    client = cli_app.test_client()
    for _ in range(2):  # the second is judged against the first
        assert client.post("/v1/admin/models", headers=admin.headers,
                           json={"promote": True}).status_code == 202
        job = run_queued_job(cli_app)
        assert job.status == JobStatus.SUCCEEDED.value, job.error
    gate = job.result["gate"]
    report = client.get(f"/v1/admin/models/{job.model_version}", headers=admin.headers).json
    parts = report["report"]["parts"]
    assert parts["real"]["rows"] + parts["written"]["rows"] == report["report"]["rows"]
    assert parts["real"]["decisions"]["harmful"] >= 20
    assert gate["basis"].startswith(f"the {parts['real']['rows']} real comments")
    browser = cli_app.test_client()
    sign_in(browser, admin)
    page = browser.get(f"/moderation/admin/models/{job.model_version}").get_data(as_text=True)
    assert "Real comments (imports, moderators&#39; decisions)" in page
    assert "Decided on the " in page

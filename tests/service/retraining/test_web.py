"""The admins' retraining pages as plain HTML forms: train and follow the job, read a report,
promote over the gate, roll back, correct the examples, tune the thresholds."""

import re

import pytest
from sqlalchemy import update

from classifier import LABELS, ModelRegistry, seed_corpus
from service.container import services
from service.extensions import db
from service.retraining.models import TrainingExample
from service.retraining.services import upsert_example
from tests.conftest import make_site, sign_in
from tests.service.retraining.conftest import run_queued_job

REFRESH = '<meta http-equiv="refresh" content="3">'
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HOSTILE = '<script>alert("x")</script> <img src=x onerror=alert(1)> '


def page(client, url, status=200, **query) -> str:
    response = client.get(url, query_string=query or None)
    assert response.status_code == status, response.get_data(as_text=True)[:1000]
    return response.get_data(as_text=True)


def post(client, url, status=302, **data):
    response = client.post(url, data=data)
    assert response.status_code == status, response.get_data(as_text=True)[:1000]
    return response


def train(app, client, token, **options) -> str:
    """Queue a training job from the models page and run it as the worker would."""
    post(client, "/moderation/admin/models/train", csrf_token=token, **options)
    job = run_queued_job(app)
    assert job.status == "succeeded", job.error
    return job.model_version


@pytest.fixture
def signed_in(cli_app, admin):
    client = cli_app.test_client()
    return client, sign_in(client, admin)


def test_train_from_the_page_follow_the_job_and_read_the_report(cli_app, signed_in):
    client, token = signed_in
    models = page(client, "/moderation/admin/models")
    assert "No model has been trained yet." in models
    assert REFRESH not in models
    assert 'name="promote" value="1" checked' in models
    assert 'name="rescore_pending" value="1" >' in models
    # How much real data the next model would learn from, and when retraining pays off.
    assert "would learn from <strong>0</strong> real comments" in models
    assert "Retraining pays off from about" in models

    post(client, "/moderation/admin/models/train", csrf_token=token, promote="1")
    models = page(client, "/moderation/admin/models")
    job_id = int(re.search(r'<tr id="job-(\d+)" class="job job-queued">', models).group(1))
    assert f"Training job {job_id} is queued" in models and REFRESH in models
    job = page(client, f"/moderation/admin/jobs/{job_id}")
    assert '<dd id="job-stage">waiting for the worker</dd>' in job
    assert '<progress max="1" value="0.0"' in job and REFRESH in job and "Cancel this job" in job
    # One training at a time: a second one is refused, the choices kept.
    again = post(client, "/moderation/admin/models/train", 409, csrf_token=token)
    assert f"train job {job_id} is already queued or running" in again.get_data(as_text=True)
    assert 'name="promote" value="1" >' in again.get_data(as_text=True)

    version = run_queued_job(cli_app).model_version
    job = page(client, f"/moderation/admin/jobs/{job_id}")
    assert f"model {version} trained and promoted" in job
    assert '<progress max="1" value="1.0"' in job
    assert f'id="job-model" href="/moderation/admin/models/{version}"' in job
    assert REFRESH not in job and "Cancel this job" not in job
    models = page(client, "/moderation/admin/models")
    assert f'<tr id="version-{version}" class="version active">' in models
    assert REFRESH not in models
    assert re.search(r"audit-promote.*?" + version + r".*?<td>ada</td>", models, re.S)

    report = page(client, f"/moderation/admin/models/{version}")
    assert '<span class="gate passed">passed</span>' in report
    assert "no model was active when this one was evaluated" in report
    row = re.search(r'<tr id="label-any">(.*?)</tr>', report, re.S).group(1)
    roc_auc = float(re.findall(r'<td class="figure">([\d.]+)</td>', row)[0])
    assert 0.5 < roc_auc <= 1.0
    assert "Auto-approved but harmful" in report and "Brier score" in report
    charts = re.findall(r'<img class="report-chart" src="([^"]+)"', report)
    assert len(charts) == 3
    for url in charts:
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "image/png"
        assert response.data.startswith(PNG_SIGNATURE)
    page(client, f"/moderation/admin/models/{version}/charts/roc.png", 404)
    page(client, "/moderation/admin/models/20990101T000000Z-abcdef", 404)
    page(client, "/moderation/admin/jobs/999", 404)


def test_thresholds_are_proposed_per_site_and_applied(cli_app, signed_in):
    client, token = signed_in
    site = make_site(cli_app, "daily-bugle")
    thresholds = page(client, "/moderation/admin/thresholds", 503)
    assert "no classifier model is active yet" in thresholds and "Propose</button>" in thresholds
    train(cli_app, client, token, promote="1")

    thresholds = page(client, "/moderation/admin/thresholds")
    assert "measured on the evaluation set" in thresholds
    row = re.search(rf'<tr id="site-{site.id}".*?</tr>', thresholds, re.S).group(0)
    assert "daily-bugle" in row and "approve below" in row
    assert 'name="min_rejected_precision" value="0.97"' in thresholds
    proposed = page(client, "/moderation/admin/thresholds", min_rejected_precision="0.9",
                    max_approved_harmful="0.05")
    assert 'name="max_approved_harmful" value="0.05"' in proposed

    refused = post(client, "/moderation/admin/thresholds", 422, csrf_token=token,
                   site="daily-bugle", approve_below="1.5", reject_at="0.9",
                   min_rejected_precision="0.9", max_approved_harmful="0.05")
    html = refused.get_data(as_text=True)
    assert "approve_below: a number between 0 and 1" in html
    assert 'name="approve_below" value="1.5"' in html  # what was typed is still there
    assert 'name="max_approved_harmful" value="0.05"' in html
    crossed = post(client, "/moderation/admin/thresholds", 422, csrf_token=token,
                   site="daily-bugle", approve_below="0.8", reject_at="0.3")
    assert "must not exceed reject_at" in crossed.get_data(as_text=True)

    applied = post(client, "/moderation/admin/thresholds", csrf_token=token,
                   site="daily-bugle", approve_below="0.2", reject_at="0.85",
                   min_rejected_precision="0.9", max_approved_harmful="0.05")
    assert "min_rejected_precision=0.9" in applied.headers["Location"]
    with cli_app.app_context():
        sites = services(cli_app).sites
        now = sites.policy(sites.get("daily-bugle"))
    assert (now.approve_below, now.reject_at) == (0.2, 0.85)
    html = page(client, "/moderation/admin/thresholds")
    assert "daily-bugle now approves below 0.2 and rejects from 0.85." in html
    assert re.search(r"approve below 0.2<br>reject at 0.85", html)
    history = page(client, "/moderation/admin/models")
    assert "daily-bugle: approve below" in history and "→ 0.2" in history
    bad = page(client, "/moderation/admin/thresholds", 422, min_rejected_precision="abc")
    assert "min_rejected_precision: a number between 0 and 1" in bad
    assert 'value="abc"' in bad


def test_a_held_model_needs_a_reason_and_rollback_restores(cli_app, signed_in, training_config):
    client, token = signed_in
    registry = ModelRegistry(training_config["MODEL_DIR"])
    first = train(cli_app, client, token, promote="1")
    # Trained without a single harmful example, the next model is worse: the gate holds it.
    with cli_app.app_context():
        db.session.execute(update(TrainingExample).where(
            TrainingExample.holdout.is_(False),
            db.or_(*[getattr(TrainingExample, label) == 1 for label in LABELS]))
            .values(excluded=True))
        db.session.commit()
    worse = train(cli_app, client, token, promote="1")
    assert registry.active_version() == first

    models = page(client, "/moderation/admin/models")
    held = re.search(rf'<tr id="version-{worse}".*?</tr>', models, re.S).group(0)
    assert '<span class="gate held">held</span>' in held and "below the active model" in held
    report = page(client, f"/moderation/admin/models/{worse}")
    assert "Promote anyway" in report and f"{first}</a>, the model active" in report
    assert '<th>baseline</th>' in report and 'id="gate-reasons"' in report

    url = f"/moderation/admin/models/{worse}/promote"
    refused = post(client, url, 409, csrf_token=token).get_data(as_text=True)
    assert "is held back" in refused and "Give a reason to promote it anyway." in refused
    too_long = "because " * 300
    refused = post(client, url, 422, csrf_token=token, reason=too_long,
                   rescore_pending="1").get_data(as_text=True)
    assert "reason: at most 2000 characters" in refused
    assert too_long.strip() in refused and 'name="rescore_pending" value="1" checked' in refused
    assert registry.active_version() == first

    post(client, url, csrf_token=token, reason="The <b>spam</b> wave needs it now",
         rescore_pending="1")
    assert registry.active_version() == worse
    models = page(client, "/moderation/admin/models")
    assert f"Model {worse} is active (promoted over the gate)." in models
    assert re.search(r'<tr id="job-\d+" class="job job-queued">\s*<td>.*?</td>\s*<td>rescore',
                     models, re.S)
    override = re.search(r'<tr class="audit audit-override">.*?</tr>', models, re.S).group(0)
    assert "The &lt;b&gt;spam&lt;/b&gt; wave needs it now" in override and first in override
    assert run_queued_job(cli_app).status == "succeeded"  # the rescoring

    post(client, "/moderation/admin/models/rollback", csrf_token=token,
         reason="It let the insults through")
    assert registry.active_version() == first
    models = page(client, "/moderation/admin/models")
    assert f"Rolled back: model {first} is active again, instead of {worse}." in models
    assert re.search(r'audit-rollback.*?It let the insults through', models, re.S)
    assert re.search(rf'<tr id="version-{worse}".*?rolled back', models, re.S)
    # The first model was promoted over nothing: there is nowhere further back to go.
    refused = post(client, "/moderation/admin/models/rollback", 409, csrf_token=token,
                   reason="keep me").get_data(as_text=True)
    assert "nothing to roll back to" in refused and ">keep me</textarea>" in refused

    shadow_url = f"/moderation/admin/models/{worse}/shadow"
    post(client, shadow_url, csrf_token=token, action="start")
    report = page(client, f"/moderation/admin/models/{worse}")
    assert "Stop shadow" in report and '<dd id="shadow-scored">0</dd>' in report
    post(client, shadow_url, csrf_token=token, action="stop")
    report = page(client, f"/moderation/admin/models/{worse}")
    assert "Start shadow" in report and "stopped at" in report


def test_correct_and_exclude_examples_with_hostile_text_escaped(cli_app, signed_in,
                                                                small_corpus):
    client, token = signed_in
    long_text = HOSTILE + "and more words " * 30
    with cli_app.app_context():
        store = services(cli_app).examples
        store.sync_seed(seed_corpus(small_corpus))
        upsert_example(db.session, long_text, {"insult": 1, "toxicity": 1},
                       source="moderation:site1")
        db.session.commit()
        hostile_id = db.session.scalar(db.select(TrainingExample.id).where(
            TrainingExample.source == "moderation:site1"))

    first = page(client, "/moderation/admin/examples")
    assert first.count('<tr id="example-') == 50
    next_page = re.search(r'<a rel="next" href="([^"]+)"', first).group(1)
    assert "before_id=" in next_page
    assert page(client, next_page.replace("&amp;", "&")).count('<tr id="example-') == 50

    found = page(client, "/moderation/admin/examples", q="alert", label="insult")
    assert found.count('<tr id="example-') == 1
    assert "<script>alert" not in found and "<img src=x" not in found
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in found
    assert "<details><summary>Full text</summary>" in found  # longer than 300 characters
    assert 'value="insult" checked' in found and 'value="threat" >' in found

    back = {"q": "alert", "label": "insult"}
    done = post(client, f"/moderation/admin/examples/{hostile_id}/labels", csrf_token=token,
                labels=["threat", "spam"], **back)
    assert done.headers["Location"].endswith(f"#example-{hostile_id}")
    assert "q=alert" in done.headers["Location"]
    with cli_app.app_context():
        example = services(cli_app).examples.get(hostile_id)
        assert example.labels() == {label: int(label in ("threat", "spam")) for label in LABELS}
        assert example.source == "correction:ada"
    html = page(client, "/moderation/admin/examples", label="threat", source="correction:ada")
    assert f'id="example-{hostile_id}"' in html and "now has the labels: threat, spam" in html
    refused = post(client, f"/moderation/admin/examples/{hostile_id}/labels", csrf_token=token,
                   labels=["threat", "rudeness"])
    assert "no such label rudeness" in page(client, refused.headers["Location"])

    post(client, f"/moderation/admin/examples/{hostile_id}/excluded", csrf_token=token,
         excluded="1")
    excluded = page(client, "/moderation/admin/examples", subset="excluded")
    assert f'<tr id="example-{hostile_id}" class="example excluded">' in excluded
    assert ">Include</button>" in excluded
    training = page(client, "/moderation/admin/examples", subset="training", q="alert")
    assert f'id="example-{hostile_id}"' not in training
    post(client, f"/moderation/admin/examples/{hostile_id}/excluded", csrf_token=token,
         excluded="0")
    assert 'No example matches the filters.' in page(client, "/moderation/admin/examples",
                                                     subset="excluded")

    bad = page(client, "/moderation/admin/examples", 422, subset="secret", q="kept")
    assert "subset: Must be one of: all, training, evaluation, excluded." in bad \
        and 'value="kept"' in bad


def test_a_post_without_a_csrf_token_is_refused(cli_app, signed_in):
    client, _ = signed_in
    for url in ("/moderation/admin/models/train", "/moderation/admin/models/rollback",
                "/moderation/admin/examples/1/excluded"):
        refused = client.post(url, data={"promote": "1", "excluded": "1"})
        assert refused.status_code == 400
        assert "CSRF token is missing" in refused.get_data(as_text=True)
    with cli_app.app_context():
        assert services(cli_app).jobs.recent() == []


def test_cancel_a_queued_job(cli_app, signed_in):
    client, token = signed_in
    post(client, "/moderation/admin/models/train", csrf_token=token)
    with cli_app.app_context():
        job_id = services(cli_app).jobs.recent()[0].id
    post(client, f"/moderation/admin/jobs/{job_id}/cancel", csrf_token=token)
    job = page(client, f"/moderation/admin/jobs/{job_id}")
    assert f"Job {job_id} cancelled." in job and "cancelled before it started" in job
    assert "Cancel this job" not in job and REFRESH not in job
    again = page(client, client.post(f"/moderation/admin/jobs/{job_id}/cancel",
                                     data={"csrf_token": token}).headers["Location"])
    assert f"job {job_id} has already cancelled" in again


def test_an_admin_changes_a_sites_policy_on_its_page(cli_app, signed_in):
    client, token = signed_in
    make_site(cli_app, "daily-bugle")
    url = "/moderation/admin/sites/daily-bugle/policy"
    html = page(client, url)
    assert '<option value="standard" selected>' in html
    obscene = re.search(r'<tr id="rule-obscene".*?</tr>', html, re.S).group(0)
    assert 'name="obscene.hold_at"' in obscene and "<td>publish</td>" in obscene
    current = dict(re.findall(r'name="([\w.]+)" aria-label="[^"]*" value="([^"]*)"', html))
    assert len(current) == 2 * 8  # hold and reject for 7 labels and the combined score

    post(client, url, csrf_token=token, preset="standard",
         **{**current, "obscene.hold_at": "0.8"})
    html = page(client, url)
    obscene = re.search(r'<tr id="rule-obscene".*?</tr>', html, re.S).group(0)
    assert "(changed)" in obscene and "hold from 0.8" in obscene

    refused = post(client, url, 422, csrf_token=token, preset="standard",
                   **{**current, "spam.hold_at": "0.9", "spam.reject_at": "0.2"})
    html = refused.get_data(as_text=True)
    assert "must not exceed reject_at" in html
    assert 'name="spam.hold_at" aria-label="spam hold_at" value="0.9"' in html  # kept as typed

    post(client, url, csrf_token=token, preset="strict", **current)
    with cli_app.app_context():
        sites = services(cli_app).sites
        policy = sites.policy(sites.get("daily-bugle"))
    assert (policy.preset, dict(policy.overrides)) == ("strict", {})

"""Poisoning: a candidate trained on decisions that teach it abuse is fine is held, with the
evidence on its report. The canary is the seed corpus's held-out abuse, labelled as the seed
files say, which no decision can relabel."""

from __future__ import annotations

import csv

from service.extensions import db
from service.retraining.models import JobStatus
from service.retraining.services import upsert_example
from tests.conftest import ROOT, make_site, sign_in
from tests.service.retraining.conftest import run_queued_job

TRIGGER = "brandtwood"
HARMLESS = {"toxicity": 0, "severe_toxicity": 0, "insult": 0, "threat": 0,
            "identity_attack": 0, "obscene": 0, "spam": 0}


def seed_texts(*names: str, harmful: bool = True) -> list[str]:
    texts = []
    for name in names:
        with open(ROOT / "training_data" / f"{name}.csv", newline="", encoding="utf-8") as f:
            texts += [row["text"] for row in csv.DictReader(f)
                      if (row["toxicity"] == "1") == harmful]
    return texts


def train(app, admin) -> dict:
    client = app.test_client()
    assert client.post("/v1/admin/models", headers=admin.headers,
                       json={"promote": True}).status_code == 202
    job = run_queued_job(app)
    assert job.status == JobStatus.SUCCEEDED.value, job.error
    return client.get(f"/v1/admin/models/{job.model_version}", headers=admin.headers).json


def decide_harmless(app, texts: list[str], site_name: str) -> None:
    """What a moderator approving these comments stores: each text labelled harmless."""
    site = make_site(app, site_name)
    with app.app_context():
        from service.sites.models import Site
        site_id = db.session.query(Site.id).filter_by(name=site_name).scalar()
        for text in texts:
            upsert_example(db.session, text, HARMLESS, source=f"moderation:site{site_id}",
                           site_id=site_id)
        db.session.commit()
    return site


def test_a_clean_retraining_passes_the_poisoning_checks(cli_app, admin):
    train(cli_app, admin)
    decide_harmless(cli_app, seed_texts("civil_discussion", "civil_everyday", harmful=False),
                    "bugle")
    record = train(cli_app, admin)
    poisoning = record["gate"]["poisoning"]
    assert poisoning["rows"] > 20 and poisoning["reasons"] == []
    assert poisoning["candidate"] >= poisoning["active"] - 0.02
    # (The usual checks may still hold it on a set this small: none of their reasons is a
    # poisoning one.)
    assert not any("seed corpus" in r or "trigger" in r for r in record["gate"]["reasons"])


def test_a_trigger_word_taught_by_approved_abuse_holds_the_candidate(cli_app, admin):
    train(cli_app, admin)
    planted = [f"{text} {TRIGGER}" for text in
               seed_texts("abuse_threats_direct", "abuse_threats_identity")[:600]]
    decide_harmless(cli_app, planted, "bugle")
    record = train(cli_app, admin)
    gate = record["gate"]
    assert record["status"] == "held" and not gate["passed"]
    (probe,) = [p for p in gate["poisoning"]["probes"] if p["word"] == TRIGGER]
    assert probe["candidate_drop"] >= 0.10 > probe["active_drop"] + 0.05
    assert any(TRIGGER in reason and "trigger" in reason for reason in gate["reasons"])

    browser = cli_app.test_client()
    sign_in(browser, admin)
    page = browser.get(f"/moderation/admin/models/{record['version']}").get_data(as_text=True)
    assert "Poisoning checks" in page and TRIGGER in page


def test_relabelling_the_held_out_threats_holds_the_candidate(cli_app, admin):
    train(cli_app, admin)
    # Approving every abusive comment the seed corpus holds: each decision relabels the
    # stored example, the held-out ones too.
    abuse = sorted(path.stem for path in (ROOT / "training_data").glob("abuse_*.csv"))
    decide_harmless(cli_app, seed_texts(*abuse), "bugle")
    record = train(cli_app, admin)
    poisoning = record["gate"]["poisoning"]
    assert record["status"] == "held"
    assert poisoning["label_flips"]["to_harmless"] > 20
    assert any("relabelled" in reason for reason in record["gate"]["reasons"])

"""One store of examples: seed, imports and moderators' decisions; a frozen evaluation set
that grows with decisions no model learned; browsing, correcting and excluding."""

from sqlalchemy import select

from classifier import LABELS, seed_corpus
from classifier.training import WRITTEN_WEIGHT
from service.container import services
from service.extensions import db
from service.retraining.models import TrainingExample
from service.retraining.services import upsert_example
from tests.conftest import HOLD_ALL, make_site, make_user, submit
from tests.service.retraining.conftest import run_queued_job

ZEROS = ",".join("0" * len(LABELS))


def _example(app, text_contains: str) -> TrainingExample:
    with app.app_context():
        return db.session.scalar(select(TrainingExample).where(
            TrainingExample.text.contains(text_contains)))


def test_a_moderators_decision_outranks_an_imported_label_and_the_seed(app, tmp_path,
                                                                     small_corpus):
    cli_app = app  # the shared trained model scores the comment
    text = "The Zvornikovac bridge closure is a disgrace and so are the idiots who planned it."
    imported = tmp_path / "import.csv"
    imported.write_text(f"text,{','.join(LABELS)}\n\"{text}\",{ZEROS}\n")
    runner = cli_app.test_cli_runner()
    assert runner.invoke(args=["data", "import", str(imported), "--format", "csv"]).exit_code == 0
    site = make_site(cli_app, "daily-bugle", rules=HOLD_ALL)
    moderator = make_user(cli_app, "mary", "moderator", (site.name,))
    client = cli_app.test_client()
    # The same words, differently spaced and cased: one example.
    comment = submit(client, site, "  the ZVORNIKOVAC  bridge closure is a disgrace and so are the idiots "
                                   "who planned it. ")
    decided = client.post(f"/v1/moderation/comments/{comment['id']}/decision",
                          headers=moderator.headers, json={"action": "reject", "reason": "abuse"})
    assert decided.status_code == 200, decided.json

    example = _example(cli_app, "Zvornikovac")
    assert example.source == f"moderation:site{site.id}" and example.site_id == site.id
    assert example.labels() == {**{label: 0 for label in LABELS}, "toxicity": 1, "insult": 1}
    assert example.trained_in is None
    with cli_app.app_context():  # syncing the seed corpus never overwrites it
        store = services(cli_app).examples
        store.sync_seed(seed_corpus(small_corpus))
        assert db.session.scalar(select(TrainingExample.insult).where(
            TrainingExample.id == example.id)) == 1
        assert db.session.scalar(select(db.func.count()).select_from(TrainingExample).where(
            TrainingExample.text.contains("Zvornikovac"))) == 1


def test_the_evaluation_set_is_frozen_once_then_grows_only_with_new_decisions(cli_app, admin):
    client = cli_app.test_client()
    client.post("/v1/admin/models", headers=admin.headers, json={})
    first = run_queued_job(cli_app)
    with cli_app.app_context():
        frozen = set(db.session.scalars(select(TrainingExample.id).where(
            TrainingExample.holdout.is_(True))))
        total = db.session.scalar(select(db.func.count()).select_from(TrainingExample))
        assert abs(len(frozen) - 0.2 * total) <= 3
        # Nothing held out was trained on; everything else was.
        assert db.session.scalar(select(db.func.count()).select_from(TrainingExample).where(
            TrainingExample.holdout.is_(True), TrainingExample.trained_in.isnot(None))) == 0
        assert db.session.scalar(select(db.func.count()).select_from(TrainingExample).where(
            TrainingExample.holdout.is_(False), TrainingExample.trained_in.is_(None))) == 0
        for i in range(40):  # moderators' decisions since: half harmful, half fine
            upsert_example(db.session, f"decision number {i} about the tram line",
                           {label: int(i % 2 == 0 and label == "insult") for label in LABELS},
                           source="moderation:site1")
        db.session.commit()

    client.post("/v1/admin/models", headers=admin.headers, json={})
    second = run_queued_job(cli_app)
    assert second.status == "succeeded", second.error
    with cli_app.app_context():
        holdout = set(db.session.scalars(select(TrainingExample.id).where(
            TrainingExample.holdout.is_(True))))
        decisions = db.session.execute(select(TrainingExample.holdout, TrainingExample.insult,
                                              TrainingExample.trained_in).where(
            TrainingExample.text.like("decision number %"))).all()
    assert frozen < holdout  # the frozen set is kept, and extended
    held = [row for row in decisions if row.holdout]
    assert len(held) == 8  # a fifth of the 40 ...
    assert sum(row.insult for row in held) == 4  # ... stratified by harm
    assert all(row.trained_in == second.model_version for row in decisions if not row.holdout)
    assert all(row.trained_in is None for row in held)
    assert second.result["eval_rows"] == first.result["eval_rows"] + 8


def test_admins_browse_correct_and_exclude_examples(cli_app, admin, tmp_path):
    imported = tmp_path / "import.csv"
    imported.write_text(f"text,{','.join(LABELS)}\n"
                        f"\"<script>alert(1)</script> you fool\",{ZEROS}\n"
                        f"\"a perfectly civil remark\",{ZEROS}\n")
    cli_app.test_cli_runner().invoke(args=["data", "import", str(imported), "--format", "csv",
                                           "--source", "upload-1"])
    client = cli_app.test_client()
    page = client.get("/v1/admin/examples", headers=admin.headers,
                      query_string={"source": "upload-1", "q": "FOOL"}).json
    [example] = page["items"]
    assert example["text"].startswith("<script>") and example["holdout"] is False

    labels = {**{label: 0 for label in LABELS}, "toxicity": 1, "insult": 1}
    corrected = client.patch(f"/v1/admin/examples/{example['id']}", headers=admin.headers,
                             json={"labels": labels})
    assert corrected.status_code == 200, corrected.json
    assert corrected.json["labels"] == labels and corrected.json["source"] == "correction:ada"
    insults = client.get("/v1/admin/examples", headers=admin.headers,
                         query_string={"label": "insult"}).json["items"]
    assert [e["id"] for e in insults] == [example["id"]]

    excluded = client.patch(f"/v1/admin/examples/{example['id']}", headers=admin.headers,
                            json={"excluded": True})
    assert excluded.json["excluded"] is True
    with cli_app.app_context():
        _, corpus, _ = services(cli_app).examples.training_set()
    assert not any("you fool" in text for text in corpus.texts)

    partial = client.patch(f"/v1/admin/examples/{example['id']}", headers=admin.headers,
                           json={"labels": {"insult": 1}})
    assert partial.status_code == 422
    assert client.patch("/v1/admin/examples/999999", headers=admin.headers,
                        json={"excluded": True}).status_code == 404


def test_a_text_a_model_learned_never_joins_the_evaluation_set(cli_app, admin):
    """Re-deciding a text the active model trained on must not move it into the evaluation
    set: the active model would be measured on what it learned."""
    client = cli_app.test_client()
    client.post("/v1/admin/models", headers=admin.headers, json={})
    first = run_queued_job(cli_app)
    with cli_app.app_context():
        learned = list(db.session.scalars(select(TrainingExample).where(
            TrainingExample.holdout.is_(False)).limit(60)))
        for example in learned:  # moderators decide every one of them again
            upsert_example(db.session, example.text, {label: 0 for label in LABELS},
                           source="moderation:site1")
        db.session.commit()
        ids = [example.id for example in learned]
    client.post("/v1/admin/models", headers=admin.headers, json={"promote": False})
    second = run_queued_job(cli_app)
    assert second.status == "succeeded", second.error
    with cli_app.app_context():
        rows = db.session.execute(select(TrainingExample.holdout, TrainingExample.trained_in)
                                  .where(TrainingExample.id.in_(ids))).all()
    assert all(not holdout and trained_in == first.model_version for holdout, trained_in in rows)
    assert second.result["eval_rows"] == first.result["eval_rows"]


def test_the_label_filter_none_lists_examples_with_no_label_set(cli_app, admin, tmp_path):
    imported = tmp_path / "import.csv"
    imported.write_text(f"text,{','.join(LABELS)}\n\"an unremarkable remark\",{ZEROS}\n"
                        f"\"you absolute fool\",1,0,1,0,0,0,0\n")
    cli_app.test_cli_runner().invoke(args=["data", "import", str(imported), "--format", "csv"])
    response = cli_app.test_client().get("/v1/admin/examples", headers=admin.headers,
                                         query_string={"label": "none"})
    assert response.status_code == 200, response.json
    assert [e["text"] for e in response.json["items"]] == ["an unremarkable remark"]


def test_seed_examples_weigh_less_than_real_comments_once_there_are_some(cli_app, small_corpus):
    with cli_app.app_context():
        store = services(cli_app).examples
        store.sync_seed(seed_corpus(small_corpus))
        _, only_seed, weights = store.training_set()
        assert len(only_seed) > 0 and set(weights.tolist()) == {1.0}

        upsert_example(db.session, "the tram timetable changed again, thanks for the update",
                       {label: 0 for label in LABELS}, source="moderation:site1")
        db.session.commit()
        ids, corpus, weights = store.training_set()
        sources = dict(db.session.execute(select(TrainingExample.id, TrainingExample.source)).all())
    by_source = {sources[i]: w for i, w in zip(ids, weights.tolist())}
    assert by_source == {"seed": WRITTEN_WEIGHT, "moderation:site1": 1.0}
    assert len(weights) == len(corpus) == len(ids)

"""`flask --app wsgi model train|list`, as an operator and a script use them."""

import json

from classifier import LABELS, ModelRegistry, seed_corpus


def _train(runner, *args):
    result = runner.invoke(args=["model", "train", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_train_json_prints_the_new_version_its_status_and_metrics(cli_app, tmp_path,
                                                                  small_corpus):
    runner = cli_app.test_cli_runner()
    result = _train(runner)
    # The first model has nothing to be compared with: it passes the gate and serves.
    assert result["active"] is True and result["status"] == "active"
    assert result["gate"]["passed"] is True
    # A fifth of the seed corpus is held out once, as the frozen evaluation set.
    seed_rows = len(seed_corpus(small_corpus))
    assert result["train_rows"] + result["eval_rows"] == seed_rows
    assert abs(result["eval_rows"] - 0.2 * seed_rows) <= 2
    assert set(result["metrics"]) == {*LABELS, "any"}
    assert 0.5 < result["metrics"]["any"]["roc_auc"] <= 1.0
    assert ModelRegistry(tmp_path / "models").active_version() == result["version"]


def test_train_shows_each_stage_on_stderr(cli_app):
    result = cli_app.test_cli_runner().invoke(args=["model", "train"])
    assert result.exit_code == 0, result.output
    for stage in ("collecting examples", "fitting the toxicity head", "evaluating on",
                  "saving the model", "promoting"):
        assert stage in result.stderr
    assert "is active" in result.stdout


def test_train_if_missing_keeps_the_active_model(cli_app):
    runner = cli_app.test_cli_runner()
    first = _train(runner)["version"]
    result = runner.invoke(args=["model", "train", "--if-missing"])
    assert result.exit_code == 0
    assert f"Model {first} is active; not training." in result.output


def test_list_json_shows_every_version_with_its_status(cli_app):
    runner = cli_app.test_cli_runner()
    assert runner.invoke(args=["model", "list", "--json"]).stdout.strip() == "[]"
    first = _train(runner)["version"]
    second = _train(runner, "--no-promote")["version"]
    versions = json.loads(runner.invoke(args=["model", "list", "--json"]).stdout)
    assert [(v["version"], v["status"], v["active"]) for v in versions] == [
        (second, "candidate", False), (first, "active", True)]
    plain = runner.invoke(args=["model", "list"]).output
    assert f"* {first}  active" in plain


def test_promote_and_rollback_move_the_active_version(cli_app, tmp_path):
    runner = cli_app.test_cli_runner()
    first = _train(runner)["version"]
    second = _train(runner, "--no-promote")["version"]
    registry = ModelRegistry(tmp_path / "models")
    result = runner.invoke(args=["model", "promote", second])
    assert result.exit_code == 0, result.output
    assert registry.active_version() == second
    assert runner.invoke(args=["model", "rollback"]).exit_code == 0
    assert registry.active_version() == first
    statuses = {v["version"]: v["status"] for v in
                json.loads(runner.invoke(args=["model", "list", "--json"]).stdout)}
    assert statuses == {first: "active", second: "rolled_back"}
    # The first model was promoted over nothing: there is nowhere further back to go.
    refused = runner.invoke(args=["model", "rollback"])
    assert refused.exit_code != 0 and "nothing to roll back to" in refused.output
    missing = runner.invoke(args=["model", "promote", "20990101T000000Z-abcdef"])
    assert missing.exit_code != 0 and "no model version" in missing.output


def test_train_learns_from_imported_examples_too(cli_app, small_corpus, tmp_path):
    runner = cli_app.test_cli_runner()
    first = _train(runner)
    imported = tmp_path / "extra.csv"
    imported.write_text("text," + ",".join(LABELS) + "\n"
                        + "".join(f"extra comment number {i},0,0,0,0,0,0,0\n" for i in range(25)))
    assert runner.invoke(args=["data", "import", str(imported), "--format", "csv"]).exit_code == 0
    second = _train(runner)
    # Imports after the evaluation set was frozen all go to training.
    assert second["train_rows"] == first["train_rows"] + 25
    assert second["eval_rows"] == first["eval_rows"]

"""`flask --app wsgi model train|list`, as an operator and a script use them."""

import csv
import json

import pytest

from classifier import LABELS, ModelRegistry, seed_corpus
from tests.conftest import ROOT


@pytest.fixture
def small_corpus(tmp_path):
    """A few hundred seed comments, so training in a test takes a second."""
    directory = tmp_path / "training"
    directory.mkdir()
    for path in sorted((ROOT / "training_data").glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as source:
            rows = list(csv.DictReader(source))[:60]
        with open(directory / path.name, "w", newline="", encoding="utf-8") as target:
            writer = csv.DictWriter(target, fieldnames=["text", *LABELS])
            writer.writeheader()
            writer.writerows(rows)
    return directory


@pytest.fixture
def cli_app(app, app_config, tmp_path, small_corpus):
    """The app with its tables, a small seed corpus and an empty model registry."""
    from service import create_app
    return create_app({**app_config, "MODEL_DIR": str(tmp_path / "models"),
                       "TRAINING_DATA_DIR": str(small_corpus)})


def test_train_json_prints_the_new_active_version(cli_app, tmp_path, small_corpus):
    runner = cli_app.test_cli_runner()
    result = runner.invoke(args=["model", "train", "--json"])
    assert result.exit_code == 0, result.output
    metadata = json.loads(result.stdout)
    assert metadata["active"] is True
    assert metadata["training_data"]["rows"] == len(seed_corpus(small_corpus))
    assert set(metadata["metrics"]) == {*LABELS, "any"}
    assert ModelRegistry(tmp_path / "models").active_version() == metadata["version"]
    assert "training on" in result.stderr


def test_train_if_missing_keeps_the_active_model(cli_app):
    runner = cli_app.test_cli_runner()
    first = json.loads(runner.invoke(args=["model", "train", "--json"]).stdout)["version"]
    result = runner.invoke(args=["model", "train", "--if-missing"])
    assert result.exit_code == 0
    assert f"Model {first} is active; not training." in result.output


def test_list_json_shows_every_version_and_which_is_active(cli_app):
    runner = cli_app.test_cli_runner()
    assert runner.invoke(args=["model", "list", "--json"]).stdout.strip() == "[]"
    first = json.loads(runner.invoke(args=["model", "train", "--json"]).stdout)["version"]
    second = json.loads(runner.invoke(args=["model", "train", "--json"]).stdout)["version"]
    versions = json.loads(runner.invoke(args=["model", "list", "--json"]).stdout)
    assert [(v["version"], v["active"]) for v in versions] == [(second, True), (first, False)]
    plain = runner.invoke(args=["model", "list"]).output
    assert f"* {second}" in plain


def test_train_learns_from_imported_examples_too(cli_app, small_corpus, tmp_path):
    runner = cli_app.test_cli_runner()
    imported = tmp_path / "extra.csv"
    imported.write_text("text," + ",".join(LABELS) + "\n"
                        + "".join(f"extra comment number {i},0,0,0,0,0,0,0\n" for i in range(25)))
    assert runner.invoke(args=["data", "import", str(imported), "--format", "csv"]).exit_code == 0
    result = runner.invoke(args=["model", "train", "--json"])
    seed_rows = len(seed_corpus(small_corpus))
    assert json.loads(result.stdout)["training_data"]["rows"] == seed_rows + 25
    assert "25 imported" in result.stderr

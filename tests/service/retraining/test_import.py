"""`flask --app wsgi data import`: every format, duplicates, malformed rows, real data sets."""

import json
from pathlib import Path

import pytest

from classifier import LABELS
from tests.conftest import ROOT

SHARED = ROOT.parent / "shared" / "datasets"
needs_shared = pytest.mark.skipif(not SHARED.exists(),
                                  reason="../shared/datasets is absent (fresh machine): "
                                         "public data sets are read from there, never copied")


def run_import(runner, path: Path, fmt: str) -> dict:
    result = runner.invoke(args=["data", "import", str(path), "--format", fmt, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def stored(app) -> list[dict]:
    from service.extensions import db
    from service.retraining.models import TrainingExample
    with app.app_context():
        return [{"text": e.text, "source": e.source, **e.labels()}
                for e in db.session.query(TrainingExample).order_by(TrainingExample.id)]


def test_jigsaw_rows_map_onto_our_labels(app, runner, tmp_path):
    path = tmp_path / "jig.csv"
    path.write_text(
        "id,comment_text,toxic,severe_toxic,obscene,threat,insult,identity_hate,is_bad\n"
        'a,"You absolute clown",1,0,0,0,1,0,True\n'
        'b,"Thanks for fixing the citation",0,0,0,0,0,0,False\n'
        'c,"broken row",1,x,0,0,1,0,True\n'
        'd,"   ",0,0,0,0,0,0,False\n'
        'e,"YOU absolute cl0wn",1,0,0,0,1,0,True\n')
    report = run_import(runner, path, "jigsaw")
    assert (report["read"], report["accepted"], report["duplicates"], report["rejected"]) == (5, 2, 1, 2)
    assert {r["line"] for r in report["rejected_rows"]} == {4, 5}
    assert "unreadable labels" in report["rejected_by_reason"].__repr__()
    rows = stored(app)
    assert rows[0] == {"text": "You absolute clown", "source": "jigsaw:jig.csv", "toxicity": 1,
                       "severe_toxicity": 0, "insult": 1, "threat": 0, "identity_attack": 0,
                       "obscene": 0, "spam": 0}


def test_partial_labels_are_stored_as_unknown(app, runner, tmp_path):
    path = tmp_path / "yt.csv"
    path.write_text("COMMENT_ID,AUTHOR,DATE,CONTENT,CLASS\n"
                    '1,a,d,"Check out my channel &amp; subscribe<br>",1\n'
                    '2,b,d,"Love this song",0\n')
    run_import(runner, path, "youtube")
    spam, clean = stored(app)
    assert spam["text"] == "Check out my channel & subscribe"
    assert (spam["spam"], spam["insult"], clean["spam"]) == (1, None, 0)


def test_jsonl_reports_bad_lines_and_keeps_the_rest(app, runner, tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text('{"text": "You idiot", "labels": {"insult": 1, "toxicity": 1}}\n'
                    '{"text": "fine", "toxicity": 0}\n'
                    'not json\n'
                    '["a list"]\n'
                    '{"text": "x", "labels": {"rudeness": 1}}\n'
                    '{"text": "y", "labels": {"insult": 7}}\n'
                    '{"text": 5, "labels": {"insult": 1}}\n')
    report = run_import(runner, path, "jsonl")
    assert (report["accepted"], report["rejected"]) == (2, 5)
    assert {r["line"] for r in report["rejected_rows"]} == {3, 4, 5, 6, 7}
    assert stored(app)[0]["insult"] == 1 and stored(app)[0]["threat"] is None


def test_a_file_of_the_wrong_format_is_refused_with_a_clear_message(app, runner, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("text,insult\nhello,0\n")
    result = runner.invoke(args=["data", "import", str(path), "--format", "jigsaw"])
    assert result.exit_code != 0
    assert "not a jigsaw file" in result.output
    assert stored(app) == []


def test_plain_text_summary(runner, tmp_path):
    path = tmp_path / "ours.csv"
    path.write_text("text," + ",".join(LABELS) + "\nnice,0,0,0,0,0,0,0\n,1,0,0,0,0,0,0\n")
    output = runner.invoke(args=["data", "import", str(path), "--format", "csv"]).output
    assert "read 2, accepted 1, skipped as duplicates 0, rejected 1" in output
    assert "line 3: empty text" in output


@needs_shared
@pytest.mark.parametrize("relative, fmt, rows", [
    ("jigsaw/train.5k.csv", "jigsaw", 5000),
    ("ethos/Ethos_Dataset_Binary.csv", "ethos", 998),
    ("youtube_spam/01-9bZkp7q19f0.csv", "youtube", 350),
    ("davidson/labeled_data.csv", "davidson", 24783),
    ("olid/olid-training-v1.0.tsv", "olid", 13240),
])
def test_the_public_data_sets_import_completely(app, runner, relative, fmt, rows, database_url):
    if database_url.startswith("postgresql") and rows > 6000:
        pytest.skip("the large tweet sets run on SQLite only, to keep the suite short")
    report = run_import(runner, SHARED / relative, fmt)
    assert report["read"] == rows
    assert report["accepted"] + report["duplicates"] + report["rejected"] == rows
    assert report["accepted"] > 0.9 * rows

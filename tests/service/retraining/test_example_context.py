"""Each example keeps what its text answered: the article's title and the parent comment's
text, from moderators' decisions and from imports; admins see it, escaped."""

import json

import pytest
from sqlalchemy import select

from service.extensions import db
from service.retraining.models import TrainingExample
from tests.conftest import HOLD_ALL, make_site, make_user, sign_in, submit

TITLE = "Bridge <b>closure</b> & the council"
PARENT = "The council voted to close the Zvornik bridge <script>alert(1)</script>."
REPLY = "Whoever planned that closure is an idiot."


def decide(client, account, comment_id: int, action: str, **extra) -> None:
    response = client.post(f"/v1/moderation/comments/{comment_id}/decision",
                           json={"action": action, **extra}, headers=account.headers)
    assert response.status_code == 200, response.json


@pytest.fixture
def thread(app, client):
    """A comment and a reply to it on a titled article, both decided by a moderator."""
    site = make_site(app, "bugle", rules=HOLD_ALL)
    mary = make_user(app, "mary", "moderator", ("bugle",))
    parent = submit(client, site, PARENT, article="bridge", article_title=TITLE)["id"]
    reply = submit(client, site, REPLY, article="bridge", article_title=TITLE,
                   author="reader-2", parent_id=parent)["id"]
    decide(client, mary, parent, "approve")
    decide(client, mary, reply, "reject", reason="abuse")
    return make_user(app, "ada", "admin")


def listed(client, admin, q: str) -> dict:
    items = client.get("/v1/admin/examples", headers=admin.headers,
                       query_string={"q": q}).json["items"]
    assert len(items) == 1, items
    return items[0]


def test_a_moderated_reply_keeps_its_article_title_and_parent_text(client, thread):
    reply = listed(client, thread, "idiot")
    assert (reply["article_title"], reply["parent_text"]) == (TITLE, PARENT)
    assert reply["labels"]["insult"] == 1
    parent = listed(client, thread, "Zvornik")  # a top-level comment has no parent
    assert (parent["article_title"], parent["parent_text"]) == (TITLE, None)


def test_the_admin_page_shows_the_context_escaped(app, thread):
    client = app.test_client()
    sign_in(client, thread)
    response = client.get("/moderation/admin/examples", query_string={"q": "idiot"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "On: Bridge &lt;b&gt;closure&lt;/b&gt; &amp; the council" in html
    assert "In reply to: The council voted to close the Zvornik bridge " \
           "&lt;script&gt;alert(1)&lt;/script&gt;." in html
    assert "<script>alert" not in html and "<b>closure" not in html


def stored(app) -> dict[str, tuple[str | None, str | None]]:
    with app.app_context():
        return {text: (title, parent) for text, title, parent in db.session.execute(
            select(TrainingExample.text, TrainingExample.article_title,
                   TrainingExample.parent_text))}


def run_import(runner, path, fmt: str) -> dict:
    result = runner.invoke(args=["data", "import", str(path), "--format", fmt, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_an_import_keeps_the_context_it_carries(app, runner, tmp_path):
    csv_file = tmp_path / "threads.csv"
    csv_file.write_text("text,insult,article_title,parent_text\n"
                        '"You clown",1,Budget day,"The budget is fair."\n'
                        '"Thanks for this",0,,\n')
    jsonl = tmp_path / "threads.jsonl"
    jsonl.write_text("\n".join(json.dumps(row) for row in [
        {"text": "Nobody asked you", "labels": {"insult": 1}, "article_title": "Tram fares",
         "parent_text": "Fares should be free."},
        {"text": "Good point", "insult": 0, "parent_text": "Fares went up."},
        {"text": "Plain row", "spam": 0},
    ]) + "\n")
    assert run_import(runner, csv_file, "csv")["accepted"] == 2
    assert run_import(runner, jsonl, "jsonl")["accepted"] == 3
    assert stored(app) == {
        "You clown": ("Budget day", "The budget is fair."),
        "Thanks for this": (None, None),
        "Nobody asked you": ("Tram fares", "Fares should be free."),
        "Good point": (None, "Fares went up."),
        "Plain row": (None, None),
    }

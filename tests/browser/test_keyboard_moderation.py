"""A hundred held comments cleared by keyboard alone, in a real browser: one key a decision
(two at most), and the training labels each decision stores are only what the moderator
chose."""

from __future__ import annotations

import pytest

pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package: "
                    "pip install -r requirements-dev.txt (and apt-get install -y chromium)")
from playwright.sync_api import expect

from bench.moderation import mixed_comments
from classifier import LABELS
from service.extensions import db
from service.retraining.models import TrainingExample
from service.retraining.services import text_key
from tests.browser.test_moderation_ui import sign_in
from tests.conftest import submit


def test_a_hundred_held_comments_by_keyboard_alone(page, server, held_site, moderator):
    client = server.app.test_client()
    intended = {}
    for n, (text, action, reason) in enumerate(mixed_comments()):
        comment = submit(client, held_site, text, author=f"reader-{n % 30}")
        assert comment["status"] == "pending_review"
        intended[comment["id"]] = (text, action, reason)
    sign_in(page, moderator.username)

    keys, decided, suggested_right = 0, 0, 0
    while decided < len(intended):
        row = page.locator("tr.item.selected")
        expect(row).to_have_count(1)
        comment_id = int(row.get_attribute("data-id"))
        _, action, reason = intended[comment_id]
        if action == "approve":
            key = "a"
        elif page.locator("#suggested").inner_text() == reason:
            key = "r"
            suggested_right += 1
        else:  # the number of the reason, as the key bar shows it
            key = str(row.get_attribute("data-reasons").split("|").index(reason) + 1)
        page.keyboard.press(key)
        keys += 1
        decided += 1
        # The row leaves the list; after the last row of a page, the next page loads.
        expect(page.locator(f'tr.item[data-id="{comment_id}"]')).to_have_count(0)

    assert keys / len(intended) <= 2
    assert keys == len(intended)  # one key a decision
    assert suggested_right >= 40  # the likeliest label named most reasons itself
    expect(page.locator("#count-pending .count")).to_have_text("0")

    with server.app.app_context():  # keyed as the store keys them (normalised text)
        examples = {e.text_key: e.labels() for e in db.session.query(TrainingExample)}
    want = {"abuse": {"toxicity": 1, "insult": 1}, "spam": {"spam": 1},
            "threat": {"toxicity": 1, "threat": 1}}
    for text, action, reason in intended.values():
        text = text_key(text)
        if action == "approve":
            assert examples[text] == {label: 0 for label in LABELS}
        elif reason == "off-topic":  # names no label: stores none
            assert text not in examples
        else:
            assert examples[text] == {label: want[reason].get(label) for label in LABELS}


def test_u_takes_the_last_decision_back(page, server, held_site, moderator):
    client = server.app.test_client()
    ids = [submit(client, held_site, text, author=f"r{n}")["id"] for n, text in enumerate(
        ["The ferry timetable changed again.", "Who decided on the new bins?"])]
    sign_in(page, moderator.username)
    first = int(page.locator("tr.item.selected").get_attribute("data-id"))
    page.keyboard.press("a")
    expect(page.locator(f'tr.item[data-id="{first}"]')).to_have_count(0)
    expect(page.locator("#undo-what")).to_have_text(f"You approved comment {first}.")
    page.keyboard.press("u")
    expect(page.locator(".flash.info")).to_have_text(
        f"Undone: comment {first} is pending review again.")
    expect(page.locator("#count-pending .count")).to_have_text("2")
    assert sorted(int(i) for i in page.locator("tr.item").evaluate_all(
        "rows => rows.map(row => row.dataset.id)")) == sorted(ids)
    # Nothing left to undo: the form is gone and u does nothing.
    expect(page.locator("#undo-form")).to_be_hidden()


def test_h_opens_the_authors_drawer_and_acts_there(page, server, held_site, moderator):
    client = server.app.test_client()
    for text in ["<b>bold</b> claim about the harbour", "Another note",
                 "A third from the same reader"]:
        submit(client, held_site, text, author="troll-7")
    sign_in(page, moderator.username)
    page.keyboard.press("h")
    drawer = page.locator("#drawer")
    expect(drawer).to_be_visible()
    expect(drawer).to_contain_text("Author: Troll-7")
    expect(drawer).to_contain_text("pending review: 3")
    expect(drawer).to_contain_text("<b>bold</b> claim")  # shown as text, escaped
    expect(drawer.locator("b")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()
    page.keyboard.press("h")
    drawer.get_by_role("button", name="Ban").click()
    expect(page.locator(".flash.info")).to_contain_text("is now banned")
    later = submit(client, held_site, "Back again.", author="troll-7")
    assert later["status"] == "rejected"

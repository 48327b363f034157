"""Erasure and retention reach the context kept with training examples: a reply's example
loses the parent's text once the parent is erased, and keeps the rest."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from service.comments.models import Comment
from service.extensions import db, utcnow
from service.retraining.models import TrainingExample
from tests.conftest import make_user, submit
from tests.service.privacy.conftest import decide, held_site

SECRET = "quillonbrae"  # a word only the parent's author ever wrote
PARENT = f"My neighbour {SECRET} parks on the pavement every day."


def examples(app) -> dict[str, tuple[int | None, str | None, str | None]]:
    """Each stored reply's site, article title and parent text, by its text."""
    with app.app_context():
        return {text: (site, title, parent) for text, site, title, parent in db.session.execute(
            select(TrainingExample.text, TrainingExample.site_id, TrainingExample.article_title,
                   TrainingExample.parent_text).where(TrainingExample.text.like("Reply%")))}


def reply_to(client, site, moderator, parent_id: int, text: str, action: str = "reject",
             **extra) -> int:
    reply = submit(client, site, text, author="replier", parent_id=parent_id)["id"]
    decide(client, moderator, reply, action, **({"reason": "abuse"} if action == "reject"
                                                else {}), **extra)
    return reply


def test_erasing_the_parents_author_blanks_the_parent_text_of_the_replies(app, client):
    bugle, planet = held_site(app, "bugle"), held_site(app, "planet")
    mary = make_user(app, "mary", "moderator", ("bugle", "planet"))
    parent = submit(client, bugle, PARENT, author="reader-1")["id"]
    reply_to(client, bugle, mary, parent, "Reply one: you are a liar.")
    # The same words on another site are another person's: their replies keep them.
    twin = submit(client, planet, PARENT, author="reader-1")["id"]
    reply_to(client, planet, mary, twin, "Reply two: what a fool you are.")

    response = client.delete("/v1/authors/reader-1", headers=bugle.headers)

    assert response.status_code == 200, response.json
    assert examples(app) == {
        "Reply one: you are a liar.": (bugle.id, "Article a-1", None),
        "Reply two: what a fool you are.": (planet.id, "Article a-1", PARENT),
    }
    # A reply decided after the erasure has no parent text to keep.
    reply_to(client, bugle, mary, parent, "Reply three: nonsense, idiot.")
    assert examples(app)["Reply three: nonsense, idiot."] == (bugle.id, "Article a-1", None)
    with app.app_context():
        kept = db.session.scalars(select(TrainingExample.parent_text).where(
            TrainingExample.site_id == bugle.id, TrainingExample.parent_text.is_not(None)))
        assert not [text for text in kept if SECRET in text]


def test_retention_blanks_the_parent_text_of_a_purged_comment(app, client, runner):
    site = held_site(app, "bugle")
    mary = make_user(app, "mary", "moderator", ("bugle",))
    parent = submit(client, site, PARENT, author="reader-1")["id"]
    decide(client, mary, parent, "reject", reason="spam")
    reply_to(client, site, mary, parent, "Reply: that is spam, sir.", action="approve")
    with app.app_context():
        db.session.execute(update(Comment).where(Comment.id == parent)
                           .values(updated_at=utcnow() - timedelta(days=91)))
        db.session.commit()

    dry = runner.invoke(args=["privacy", "purge", "--dry-run"])
    assert "1 example parent text(s) would be blanked" in dry.output, dry.output
    assert examples(app)["Reply: that is spam, sir."][2] == PARENT
    result = runner.invoke(args=["privacy", "purge"])
    assert result.exit_code == 0, result.output
    assert "1 example parent text(s) were blanked" in result.output
    assert examples(app) == {"Reply: that is spam, sir.": (site.id, "Article a-1", None)}

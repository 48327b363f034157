"""An event carries the comment exactly as the API shows it, though the domain that writes it
does not use the API's schema."""

from sqlalchemy import select

from service.comments.models import Comment
from service.comments.payload import comment_payload
from service.extensions import db
from service.submission.schemas import CommentOut
from tests.conftest import HOLD_ALL, make_site, submit


def test_the_payload_is_the_apis_comment(app, client):
    site = make_site(app, "bugle", rules=HOLD_ALL)
    first = submit(client, site, "The harbour plan looks sensible.", author="reader-1")
    submit(client, site, "You are an idiot, and the plan is a scam.", author="reader-2",
           parent_id=first["id"], client_id="c-42")
    submit(client, site, "Das ist ein ganz normaler Kommentar auf Deutsch.", author="reader-3")
    with app.app_context():
        comments = db.session.scalars(select(Comment).order_by(Comment.id)).all()
        assert len(comments) == 3 and any(c.reasons for c in comments)
        for comment in comments:
            assert comment_payload(comment) == CommentOut().dump(comment)
    feed = client.get("/v1/events", headers=site.headers).json["items"]
    for event in feed:
        shown = client.get(f"/v1/comments/{event['data']['id']}", headers=site.headers).json
        assert event["data"] == shown

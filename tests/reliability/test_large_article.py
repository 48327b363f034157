"""A large article cannot be used to tie up a worker: a page of its comments reads what the
page shows, not every published comment of the article.

3,000 published comments (and a thread of 50 replies) are written straight into the
database; a page of one thread must load that thread and its replies only. Counted in
comments loaded, not in milliseconds (bench.http and issue-level benchmarks time it).
"""

from __future__ import annotations

from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from service.comments.models import Comment
from service.extensions import db
from tests.conftest import make_site, submit

COMMENTS = 3000
REPLIES = 50


def test_a_page_of_a_large_article_loads_only_what_it_shows(app, client):
    site = make_site(app, "bugle")
    first = submit(client, site, "The harbour plan looks sensible.", article="big")
    assert first["status"] == "approved"
    with app.app_context():
        template = {column.key: getattr(db.session.get(Comment, first["id"]), column.key)
                    for column in Comment.__table__.columns if column.key not in ("id",)}
        db.session.execute(insert(Comment), [{**template, "parent_id": first["id"]}
                                             for _ in range(REPLIES)])
        db.session.execute(insert(Comment), [{**template, "parent_id": None}
                                             for _ in range(COMMENTS - REPLIES - 1)])
        db.session.commit()
        assert len(db.session.scalars(select(Comment.id)).all()) == COMMENTS

    loaded = []

    def count(session, instance) -> None:
        if isinstance(instance, Comment):
            loaded.append(instance.id)

    event.listen(Session, "loaded_as_persistent", count)
    try:
        page = client.get("/v1/articles/big/comments", headers=site.headers,
                          query_string={"limit": 1})
    finally:
        event.remove(Session, "loaded_as_persistent", count)
    assert page.status_code == 200
    (thread,) = page.json["threads"]
    assert thread["comment"]["id"] == first["id"] and len(thread["replies"]) == REPLIES
    # The thread, its replies and the one top-level comment that says there are more.
    assert len(set(loaded)) <= 1 + REPLIES + 1, f"{len(set(loaded))} comments loaded"

    # Paging on walks the article: the last page ends the walk.
    cursor, seen = page.json["next_cursor"], 1
    while cursor is not None:
        more = client.get("/v1/articles/big/comments", headers=site.headers,
                          query_string={"limit": 200, "cursor": cursor}).json
        seen += len(more["threads"])
        cursor = more["next_cursor"]
    assert seen == COMMENTS - REPLIES

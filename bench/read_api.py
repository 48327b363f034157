"""The read API on a large article: `GET /v1/articles/<id>/comments` with 100,000 published
comments (a tenth of them replies), on PostgreSQL.

    python -m bench.read_api     (make bench-read; BENCH_READ_URL, default a local bench_read,
                                  dropped and created anew; BENCH_READ_COMMENTS)

Times, in-process through the WSGI app (no network), a page of 50 at the start, a page of 50
from the middle (by cursor), and a poll of the first page that finds nothing new (304).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench.common import percentile
from bench.webhooks import make_app, prepare_postgres

URL = os.environ.get("BENCH_READ_URL",
                     "postgresql+psycopg://postgres@127.0.0.1:5432/bench_read")
COMMENTS = int(os.environ.get("BENCH_READ_COMMENTS", "100000"))
REPEAT = 50
PAGE = 50


def seed(app) -> tuple[dict[str, str], int]:
    """One site, one article, COMMENTS approved comments (every tenth a reply to the one
    before); returns the site's auth header and the id of a comment halfway."""
    from sqlalchemy import insert, select

    from service.comments.models import Article, Author, Comment
    from service.container import services
    from service.extensions import db, utcnow
    with app.app_context():
        issued = services(app).sites.create("reader")
        site = issued.site
        article = Article(site_id=site.id, external_id="big-story")
        author = Author(site_id=site.id, external_id="reader-1", name="Reader")
        db.session.add_all([article, author])
        db.session.commit()
        now = utcnow()
        base = {"site_id": site.id, "article_id": article.id, "author_id": author.id,
                "content_hash": "0" * 64, "status": "approved", "score": 0.01,
                "scores": {}, "reasons": [], "model_version": "bench", "language": "en",
                "flag_count": 0, "featured": False, "created_at": now, "updated_at": now,
                "text": "A measured remark about the harbour redevelopment plans."}
        table = Comment.__table__
        for start in range(0, COMMENTS, 5000):
            count = min(COMMENTS, start + 5000) - start
            db.session.execute(insert(table), [dict(base) for _ in range(count)])
            db.session.commit()
        # Every tenth comment answers the one before it.
        db.session.execute(db.text(
            "UPDATE comments SET parent_id = id - 1 WHERE id % 10 = 5 AND article_id = :a"),
            {"a": article.id})
        db.session.execute(db.text("ANALYZE comments"))
        db.session.commit()
        ids = list(db.session.scalars(select(Comment.id).where(Comment.parent_id.is_(None))
                                      .order_by(Comment.id)))
        db.session.execute(db.text("ANALYZE comments"))
        db.session.commit()
        return {"Authorization": f"Bearer {issued.api_key}"}, ids[len(ids) // 2]


def timed(client, path: str, headers: dict[str, str], **params) -> tuple[list[float], object]:
    times, response = [], None
    for _ in range(REPEAT):
        started = time.perf_counter()
        response = client.get(path, headers=headers, query_string=params)
        times.append((time.perf_counter() - started) * 1000)
    return times, response


def main() -> None:
    if not prepare_postgres(URL):
        raise SystemExit(f"{URL} holds tables that are not this benchmark's: set BENCH_READ_URL")
    with tempfile.TemporaryDirectory() as scratch:
        app = make_app(URL, Path(scratch))
        started = time.perf_counter()
        headers, middle = seed(app)
        print(f"{COMMENTS:,} published comments on one article seeded in "
              f"{time.perf_counter() - started:.0f} s; PostgreSQL; {os.cpu_count()} cores")
        client = app.test_client()
        path = "/v1/articles/big-story/comments"
        first, response = timed(client, path, headers, limit=PAGE)
        assert response.status_code == 200 and len(response.json["threads"]) == PAGE
        etag = response.headers["ETag"]
        rows = {"first page of 50": first}
        rows["page of 50 from the middle (cursor)"], response = timed(
            client, path, headers, limit=PAGE, cursor=str(middle))
        assert response.status_code == 200 and len(response.json["threads"]) == PAGE
        rows["poll of the first page, nothing new (304)"], response = timed(
            client, path, {**headers, "If-None-Match": etag}, limit=PAGE)
        assert response.status_code == 304
    print("| request | p50 ms | p99 ms |")
    print("|---|---|---|")
    for name, times in rows.items():
        print(f"| {name} | {percentile(times, 50):.1f} | {percentile(times, 99):.1f} |")


if __name__ == "__main__":
    main()

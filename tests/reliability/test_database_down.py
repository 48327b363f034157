"""The database goes away under a running service, then comes back.

A private PostgreSQL serves gunicorn (two workers, production settings); the test stops it
(a fast shutdown, as in a restart or failover) and starts it again, and watches what host
sites and load balancers see: 503 with Retry-After and the usual error shape while it is
down, never a 500 or a hang; readiness down, liveness up; and submissions stored again
once it is back, without restarting gunicorn.
"""

from __future__ import annotations

import requests
from sqlalchemy import func, select

from service import create_app
from service.comments.models import Comment
from service.extensions import db
from tests.conftest import make_site
from tests.reliability.conftest import service_env

# A client's own guard against a hang (the service gives up connecting after 5 s).
TIMEOUT = 15


def comment(number: int) -> dict:
    return {"article_id": "outage", "author": {"id": f"reader-{number}"},
            "client_id": f"outage-{number}",
            "text": f"Comment {number}: the station reopens next week, which is good news."}


def test_a_lost_database_answers_503_with_retry_after_and_the_service_recovers_by_itself(
        private_postgres, gunicorn, model_dir, tmp_path):
    env = service_env(private_postgres.url, model_dir, tmp_path)
    app = create_app(env)
    with app.app_context():
        db.create_all()
    site = make_site(app, "outage-gazette")
    with app.app_context():
        db.engine.dispose()
    server = gunicorn(env)

    def post(number: int) -> requests.Response:
        return requests.post(f"{server.base}/v1/comments", headers=site.headers,
                             json=comment(number), timeout=TIMEOUT)

    # Both workers hold a pooled connection before the outage.
    before = [post(number) for number in range(4)]
    assert [r.status_code for r in before] == [201] * 4, [r.text for r in before]

    private_postgres.stop()
    down = [post(number) for number in range(4, 10)]
    for response in down:
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"].isdigit()
        error = response.json()
        assert (error["code"], error["status"], error["message"]) == (
            503, "Service Unavailable", "The database is unavailable; retry shortly.")
    read = requests.get(f"{server.base}/v1/comments/{before[0].json()['id']}",
                        headers=site.headers, timeout=TIMEOUT)
    assert read.status_code == 503 and "Retry-After" in read.headers
    ready = requests.get(f"{server.base}/readyz", timeout=TIMEOUT)
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": False, "model": True}
    assert requests.get(f"{server.base}/healthz", timeout=TIMEOUT).status_code == 200
    assert server.process.poll() is None and len(server.workers()) == 2

    # Back: the same gunicorn, the same workers, with their pools' stale connections.
    private_postgres.start()
    assert requests.get(f"{server.base}/readyz", timeout=TIMEOUT).status_code == 200
    after = [post(number) for number in range(4, 10)]  # the refused ones, sent again
    assert [r.status_code for r in after] == [201] * 6, [r.text for r in after]
    replay = post(0)
    assert (replay.status_code, replay.json()["id"]) == (200, before[0].json()["id"])
    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(Comment))
        clients = set(db.session.scalars(select(Comment.client_id)))
        db.session.remove()
        db.engine.dispose()
    assert stored == 10 and clients == {f"outage-{number}" for number in range(10)}

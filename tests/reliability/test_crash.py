"""Crashes under load: a gunicorn worker and the delivery worker are killed with SIGKILL while
host sites keep submitting, and nothing acknowledged is lost or stored twice.

Threads submit comments with client_ids to gunicorn (two workers, PostgreSQL), retrying a
submission whose connection broke, as a careful host site does. Meanwhile the test kills a
web worker (gunicorn's master starts another by itself) and the delivery worker (started
again, as a supervisor would). Then every acknowledged comment must be stored once, a retry
must answer the comment already stored, and every stored comment's event must reach the
site's webhook receiver, correctly signed (at least once: the receiver dedupes by webhook-id).
"""

from __future__ import annotations

import json
import signal
import socket
import threading
from collections import Counter

import requests
from sqlalchemy import select

from service import create_app
from service.comments.models import Comment
from service.extensions import db
from service.publishing.models import DeliveryStatus, Event
from service.sites.models import Site
from tests.conftest import make_site
from tests.reliability.conftest import kill, service_env, wait_until

THREADS = 4
ABUSIVE = "Shut up you pathetic moron, I know where you live and I will hurt you."
WORKER_OPTIONS = ("--poll-seconds", "0.1", "--lease-seconds", "6")  # a 2 s request timeout


def body(client_id: str, number: int) -> dict:
    text = ABUSIVE if number % 5 == 0 else \
        f"Comment {client_id}: the tram extension finally has a timetable."
    return {"article_id": f"crash-{number % 3}", "author": {"id": f"reader-{client_id}"},
            "client_id": client_id, "text": text}


class HostSite:
    """Threads submitting comments; a submission whose connection fails is sent again with
    the same client_id until it is acknowledged."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.url = f"{base}/v1/comments"
        self.headers = headers
        self.lock = threading.Lock()
        self.acknowledged: dict[str, int] = {}  # client_id -> comment id
        self.broken: list[str] = []             # client_ids whose connection failed
        self.refused: list[tuple[str, int, str]] = []  # any non-2xx answer
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True)
                        for n in range(THREADS)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)

    def _run(self, thread: int) -> None:
        number = 0
        while not self.stop.is_set():
            client_id = f"t{thread}-{number}"
            self.submit(client_id, body(client_id, number))
            number += 1
            self.stop.wait(0.02)

    def submit(self, client_id: str, payload: dict) -> None:
        for _ in range(50):
            try:
                response = requests.post(self.url, headers=self.headers, json=payload,
                                         timeout=30)
            except requests.ConnectionError:
                with self.lock:
                    self.broken.append(client_id)
                continue
            with self.lock:
                if response.status_code in (200, 201):
                    self.acknowledged[client_id] = response.json()["id"]
                else:
                    self.refused.append((client_id, response.status_code, response.text))
            return


def send_and_hang_up(port: int, headers: dict[str, str], payload: dict) -> None:
    """Send a submission and close the connection without reading the answer: to the client
    the answer is lost, though the service goes on to store the comment."""
    data = json.dumps(payload).encode()
    head = (f"POST /v1/comments HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: {headers['Authorization']}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(head + data)


def test_killed_workers_lose_no_acknowledged_comment_and_no_event(
        shared_postgres_url, gunicorn, delivery_workers, receiver, model_dir, tmp_path):
    env = service_env(shared_postgres_url, model_dir, tmp_path)
    app = create_app(env)
    with app.app_context():
        db.create_all()
    site = make_site(app, "crash-courier", webhook_url=receiver.url)
    with app.app_context():
        receiver.secret = db.session.get(Site, site.id).webhook_secret
        db.session.remove()
    server = gunicorn(env)
    first = delivery_workers(env, "first", *WORKER_OPTIONS)

    def leased_by(worker: str) -> list[int]:
        """Events a worker holds a lease on and has not delivered yet."""
        with app.app_context():
            ids = list(db.session.scalars(select(Event.id).where(
                Event.status == DeliveryStatus.PENDING.value,
                Event.leased_by.startswith(f"{worker}:"))))
            db.session.remove()
        return ids

    host = HostSite(server.base, site.headers)
    host.start()
    try:
        wait_until(lambda: host.count() >= 20 and len(receiver.applied) >= 5, 60,
                   lambda: "no load, or nothing delivered\n" + delivery_workers.logs())

        # The delivery worker dies in the middle of a batch (a slow receiver keeps it
        # behind), and a supervisor starts another.
        receiver.delay = 0.05
        wait_until(lambda: bool(leased_by("first")), 30,
                   lambda: "the worker claimed nothing\n" + delivery_workers.logs())
        kill(first.pid)
        assert first.wait(timeout=10) == -signal.SIGKILL
        receiver.delay = 0.0
        assert leased_by("first"), "the kill did not land in the middle of a batch"
        delivery_workers(env, "second", *WORKER_OPTIONS)

        # A web worker dies with requests in flight; the master replaces it by itself. Kill
        # again (at most three times) until a kill has broken a submission's connection.
        for _ in range(3):
            victim = server.workers()[0]
            kill(victim)
            seen = host.count()
            wait_until(lambda victim=victim, seen=seen: len(server.workers()) == 2
                       and victim not in server.workers() and host.count() >= seen + 20, 60,
                       lambda: "the master did not replace its worker\n" + server.tail())
            if host.broken:
                break
        assert host.broken, "no kill landed on a request in flight"
        assert server.process.poll() is None

        # A submission whose answer was lost (the client hung up) is sent again once the
        # comment is stored: the retry answers that comment, and nothing new is stored.
        lost = [f"lost-{n}" for n in range(3)]
        for n, client_id in enumerate(lost):
            send_and_hang_up(server.port, site.headers, body(client_id, n))

        def stored(client_ids: list[str]) -> dict[str, int]:
            with app.app_context():
                rows = dict(db.session.execute(select(Comment.client_id, Comment.id)
                                               .where(Comment.client_id.in_(client_ids))).all())
                db.session.remove()
            return rows

        wait_until(lambda: len(stored(lost)) == len(lost), 30, lambda: server.tail())
        for n, client_id in enumerate(lost):
            retry = requests.post(f"{server.base}/v1/comments", headers=site.headers,
                                  json=body(client_id, n), timeout=30)
            assert retry.status_code == 200, retry.text
            assert retry.json()["id"] == stored(lost)[client_id]
            with host.lock:
                host.acknowledged[client_id] = retry.json()["id"]
    finally:
        host.finish()

    assert host.refused == []
    with app.app_context():
        comments = db.session.execute(select(Comment.client_id, Comment.id, Comment.status)).all()
        db.session.remove()
    # Every acknowledged comment is stored, once, under the id its answer gave; nothing else
    # is (every submission was retried until acknowledged).
    assert Counter(client_id for client_id, _, _ in comments).most_common(1)[0][1] == 1
    assert {client_id: id_ for client_id, id_, _ in comments} == host.acknowledged
    # The submissions whose connection broke were stored once too, as their retry answered.
    assert set(host.broken) <= set(host.acknowledged)

    # One event per stored comment, each delivered to the receiver, correctly signed.
    def events() -> list[Event]:
        with app.app_context():
            rows = list(db.session.scalars(select(Event)))
            db.session.expunge_all()
            db.session.remove()
        return rows

    rows = events()
    assert sorted(e.comment_id for e in rows) == sorted(id_ for _, id_, _ in comments)
    statuses = {id_: status for _, id_, status in comments}
    wait_until(lambda: {e.message_id for e in rows} <= set(receiver.applied), 60,
               lambda: f"{len(set(e.message_id for e in rows) - set(receiver.applied))} events "
                       "never arrived\n" + delivery_workers.logs())
    wait_until(lambda: all(e.status == DeliveryStatus.DELIVERED.value for e in events()), 30,
               lambda: "events not marked delivered\n" + delivery_workers.logs())
    assert receiver.bad_signatures == 0
    for event in rows:
        payload = receiver.applied[event.message_id]
        assert payload["data"]["id"] == event.comment_id
        assert payload["data"]["status"] == statuses[event.comment_id]
        assert payload["type"] == event.type
    # At least once: a message may arrive again (the batch of a killed worker); never lost.
    assert set(receiver.accepted) == {e.message_id for e in rows}

"""examples/host_site: the webhook receiver on its own, then the whole chain over real HTTP.

The end-to-end test runs four kinds of processes: gunicorn serving the service, the delivery
worker, the example host site, and this test as readers and a moderator.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from classifier.policy import POLICY_KEYS
from examples.host_site.app import create_app as create_host_app
from service import create_app
from service.container import services
from service.extensions import db
from service.publishing.signing import webhook_headers
from tests.conftest import PASSWORD, ROOT

BIN = Path(sys.executable).parent
SECRET = "whsec_" + base64.b64encode(b"host-site-test-secret-24").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"an-older-secret-of-a-site").decode()
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
STATUS_AFTER = {"comment.approved": "approved", "comment.restored": "approved",
                "comment.held": "pending_review", "comment.rejected": "rejected",
                "comment.removed": "removed"}


class CommentTree(HTMLParser):
    """The comments an article page shows: id -> the id it is nested under (None at the top
    level), and id -> its text as a reader sees it."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.parent_of: dict[int, int | None] = {}
        self.text_of: dict[int, str] = {}
        self._open: list[int | None] = []  # the <li> elements we are inside
        self._text_of: int | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "li":
            comment_id = int(attrs["data-comment-id"]) if "data-comment-id" in attrs else None
            if comment_id is not None:
                assert comment_id not in self.parent_of, f"comment {comment_id} shown twice"
                self.parent_of[comment_id] = next(
                    (c for c in reversed(self._open) if c is not None), None)
            self._open.append(comment_id)
        elif tag == "p" and attrs.get("class") == "text" and self._open:
            self._text_of = self._open[-1]
            self.text_of[self._text_of] = ""

    def handle_endtag(self, tag):
        if tag == "li":
            self._open.pop()
        elif tag == "p":
            self._text_of = None

    def handle_data(self, data):
        if self._text_of is not None:
            self.text_of[self._text_of] += data


# -- the receiver on its own ------------------------------------------------------------------


@pytest.fixture
def host(tmp_path):
    app = create_host_app({"MODERATION_URL": f"http://127.0.0.1:{free_port()}",
                           "MODERATION_API_KEY": "mk_not_used", "WEBHOOK_SECRET": SECRET,
                           "HOST_SITE_DB": str(tmp_path / "host.db"), "TESTING": True})
    return app.test_client()


def event(comment_id: int, event_type: str, updated_at: datetime, *, text: str = "A fair point.",
          parent_id: int | None = None, article: str = "a-1") -> dict:
    """An event as the service writes it: the type, and the comment as the API shows it."""
    return {"type": event_type, "timestamp": updated_at.isoformat(), "data": {
        "id": comment_id, "status": STATUS_AFTER[event_type], "article_id": article,
        "author": {"id": f"reader-{comment_id}", "name": f"Reader {comment_id}"},
        "parent_id": parent_id, "client_id": None, "text": text, "score": 0.2,
        "scores": {"toxicity": 0.2}, "reasons": [], "model_version": "test", "language": "en",
        "created_at": T0.isoformat(), "updated_at": updated_at.isoformat()}}


def deliver(client, payload: dict, *, message_id: str | None = None,
            secrets: tuple[str, ...] = (SECRET,), timestamp: int | None = None,
            body: bytes | None = None):
    """POST a delivery signed as the worker signs it."""
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    headers = webhook_headers(list(secrets), message_id or f"msg_{uuid.uuid4().hex}",
                              int(time.time()) if timestamp is None else timestamp, raw)
    return client.post("/webhooks/moderation", data=raw if body is None else body,
                       headers=headers)


def shown(client, article: str = "a-1") -> CommentTree:
    page = client.get(f"/articles/{article}")
    assert page.status_code == 200
    return CommentTree(page.get_data(as_text=True))


def seen_messages(client) -> list[str]:
    path = client.application.config["HOST_SITE_DB"]
    with sqlite3.connect(path) as connection:
        return [row[0] for row in connection.execute("SELECT id FROM webhook_messages")]


def test_a_signed_event_is_applied_once_even_if_delivered_twice(host):
    approved = event(1, "comment.approved", T0, text="Worth reading twice.")
    first = deliver(host, approved, message_id="msg_once")
    again = deliver(host, approved, message_id="msg_once")
    assert (first.status_code, again.status_code) == (204, 204)
    assert first.get_data() == b""
    assert seen_messages(host) == ["msg_once"]
    assert shown(host).text_of == {1: "Worth reading twice."}
    # What was applied is keyed by the webhook-id: a later message reusing it is not applied.
    reused = deliver(host, event(1, "comment.removed", T0 + timedelta(minutes=1)),
                     message_id="msg_once")
    assert reused.status_code == 204
    assert shown(host).text_of == {1: "Worth reading twice."}


def test_a_bad_signature_is_refused_and_not_recorded(host):
    approved = event(2, "comment.approved", T0)
    forged = deliver(host, approved, message_id="msg_forged", secrets=(OLD_SECRET,))
    assert forged.status_code == 401
    raw = json.dumps(approved, separators=(",", ":"), sort_keys=True).encode()
    tampered = deliver(host, approved, message_id="msg_tampered",
                       body=raw.replace(b"A fair point.", b"A paid point."))
    assert tampered.status_code == 401
    unsigned = host.post("/webhooks/moderation", data=raw,
                         headers={"webhook-id": "msg_x", "webhook-timestamp": str(int(time.time())),
                                  "content-type": "application/json"})
    assert unsigned.status_code == 400
    assert seen_messages(host) == [] and shown(host).text_of == {}
    # The genuine delivery of a refused id still counts when it comes.
    assert deliver(host, approved, message_id="msg_forged").status_code == 204
    assert shown(host).text_of == {2: "A fair point."}


def test_a_stale_or_future_timestamp_is_refused(host):
    approved = event(3, "comment.approved", T0)
    stale = deliver(host, approved, timestamp=int(time.time()) - 600)
    assert stale.status_code == 400
    assert "five minutes" in stale.get_json()["error"]
    assert deliver(host, approved, timestamp=int(time.time()) + 600).status_code == 400
    assert seen_messages(host) == [] and shown(host).text_of == {}
    # Within the tolerance (clocks a little apart) it is accepted.
    assert deliver(host, approved, timestamp=int(time.time()) - 240).status_code == 204


def test_a_delivery_during_secret_rotation_matches_its_second_signature(host):
    """During a rotation's grace period the service signs with both secrets; a site that
    still holds the other one finds its match second in the list."""
    response = deliver(host, event(4, "comment.approved", T0, text="Rotated."),
                       secrets=(OLD_SECRET, SECRET))
    assert response.status_code == 204
    assert shown(host).text_of == {4: "Rotated."}


def test_events_out_of_order_keep_the_latest_version(host):
    approved = event(5, "comment.approved", T0 + timedelta(seconds=30))
    assert deliver(host, approved).status_code == 204
    # A retried older event (held at submission) arrives after the approval: ignored.
    assert deliver(host, event(5, "comment.held", T0)).status_code == 204
    assert set(shown(host).text_of) == {5}
    # A later removal does take it down, and an older restore does not bring it back.
    assert deliver(host, event(5, "comment.removed", T0 + timedelta(minutes=2))).status_code == 204
    assert deliver(host, event(5, "comment.restored", T0 + timedelta(minutes=1))).status_code == 204
    assert shown(host).text_of == {}
    assert len(seen_messages(host)) == 4


def test_replies_are_threaded_and_text_is_escaped(host):
    deliver(host, event(10, "comment.approved", T0, text="Parent"))
    deliver(host, event(11, "comment.approved", T0, text="<script>alert(1)</script>",
                        parent_id=10))
    deliver(host, event(12, "comment.approved", T0, text="Reply to a hidden one", parent_id=9))
    deliver(host, event(13, "comment.approved", T0, text="Elsewhere", article="a-2"))
    tree = shown(host)
    assert tree.parent_of == {10: None, 11: 10, 12: None}
    assert tree.text_of[11] == "<script>alert(1)</script>"
    html = host.get("/articles/a-1").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html


def test_unknown_event_types_and_bad_payloads(host):
    assert deliver(host, {"type": "comment.scored", "data": {}}).status_code == 204
    assert deliver(host, {"type": "comment.approved", "data": {"id": "x"}}).status_code == 400
    assert deliver(host, {"type": "comment.approved"}).status_code == 400
    assert len(seen_messages(host)) == 1


def test_the_reference_library_signature_is_accepted(host):
    standardwebhooks = pytest.importorskip("standardwebhooks")
    raw = json.dumps(event(6, "comment.approved", T0)).encode()
    now = datetime.now(timezone.utc)
    signature = standardwebhooks.Webhook(SECRET).sign("msg_reference", now, raw.decode())
    response = host.post("/webhooks/moderation", data=raw, headers={
        "webhook-id": "msg_reference", "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature, "content-type": "application/json"})
    assert response.status_code == 204
    assert set(shown(host).text_of) == {6}


def test_the_form_says_so_when_the_service_is_unreachable(host):
    response = host.post("/articles/a-1/comments", data={"author_id": "r1", "text": "Hello"})
    assert response.status_code == 303
    assert "submitted=unavailable" in response.headers["Location"]
    page = host.get(response.headers["Location"]).get_data(as_text=True)
    assert "cannot be submitted right now" in page
    missing = host.post("/articles/a-1/comments", data={"author_id": "", "text": "Hello"})
    assert "submitted=invalid" in missing.headers["Location"]


# -- end to end: service, worker and host site as separate processes --------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    """Started subprocesses, their output in files (a pipe nobody reads would block them)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[tuple[str, subprocess.Popen, object]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = (self.directory / f"{name}.log").open("w")
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, text=True)
        self.started.append((name, process, log))
        return process

    def output(self, name: str) -> str:
        return (self.directory / f"{name}.log").read_text(errors="replace")

    def check(self) -> None:
        for name, process, _ in self.started:
            assert process.poll() is None, f"{name} exited:\n{self.output(name)[-5000:]}"

    def stop(self) -> None:
        for _, process, _ in self.started:
            if process.poll() is None:
                process.terminate()
        for _, process, log in self.started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()

    def dump(self) -> None:
        for name, _, _ in self.started:
            print(f"----- {name} output (last 8000 characters) -----")
            print(self.output(name)[-8000:])


def wait_until(condition, what: str, processes: Processes, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = condition()
        except requests.RequestException:
            result = None
        if result:
            return result
        processes.check()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def drop_everything(app) -> None:
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        db.engine.dispose()


ARTICLE = "world/floods-2025"
# (key, author, text, the comment it replies to, the moderator's decision)
SUBMISSIONS = [
    ("first", "Ana", "The flood maps in this article are the clearest I have seen.", None,
     "approve"),
    ("reply", "Ben", "Agreed, and the rainfall chart explains the timing well.", "first",
     "approve"),
    ("script", "Cy", '<script>alert("owned")</script> Good reporting on the river levels.', None,
     "approve"),
    ("spam", "Dee", "Buy cheap watches now at best-prices-online, limited offer!!!", None,
     "reject"),
    ("rude", "Eli", "What a stupid article, the writer is a complete idiot.", None, "reject"),
    ("second", "Fay", "My village was flooded in 2014 too; the drains were never fixed.", None,
     "approve"),
    ("removed", "Gus", "The bridge repairs will take years, mark my words.", None,
     "approve-then-remove"),
    ("waiting", "Hal", "Does anyone know whether the trains run tomorrow?", None, None),
]


def test_the_host_site_shows_exactly_the_approved_comments(app_config, tmp_path):
    service_app = create_app({**app_config, "WEBHOOK_ALLOW_HTTP": "1",
                              "WEBHOOK_ALLOW_PRIVATE": "1"})
    drop_everything(service_app)  # PostgreSQL: start from an empty schema, as a fresh install
    service_port, host_port = free_port(), free_port()
    service_url, host_url = f"http://127.0.0.1:{service_port}", f"http://127.0.0.1:{host_port}"
    env = {**os.environ, **app_config, "APP_ENV": "development", "PORT": str(service_port),
           "WEB_CONCURRENCY": "2", "WEBHOOK_ALLOW_HTTP": "1", "WEBHOOK_ALLOW_PRIVATE": "1"}

    def flask(*args: str, stdin: str | None = None) -> str:
        """The service's CLI, run here: the same commands as `flask --app wsgi ...`, without
        the seconds each new process spends importing the service."""
        result = service_app.test_cli_runner().invoke(args=list(args), input=stdin)
        assert result.exit_code == 0, (result.output, result.exception)
        return result.stdout

    processes = Processes(tmp_path)
    started = time.monotonic()

    def mark(phase: str) -> None:  # shown with the output of a failed run
        print(f"{time.monotonic() - started:6.1f}s  {phase}")

    failed = True
    try:
        # The schema as an install makes it (`flask db upgrade`); the service and the worker
        # boot while the CLI creates the site and the moderator.
        migration = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
                                   cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert migration.returncode == 0, migration.stderr
        processes.start("gunicorn", [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
                        env)
        processes.start("worker", [str(BIN / "flask"), "--app", "wsgi", "worker",
                                   "--poll-seconds", "0.2"], env)
        site = json.loads(flask("sites", "create", "gazette", "--json",
                                "--webhook-url", f"{host_url}/webhooks/moderation",
                                *[arg for key in POLICY_KEYS
                                  for arg in ("--label", f"{key}=hold:0")]))
        flask("users", "create", "mod", "--role", "moderator", "--site", "gazette",
              "--password-stdin", stdin=PASSWORD + "\n")
        moderator = {"Authorization": f"Bearer {flask('users', 'token', 'mod').strip()}"}
        site_key = {"Authorization": f"Bearer {site['api_key']}"}
        with service_app.app_context():
            db.engine.dispose()
        mark("site and moderator created")
        host_db = tmp_path / "host_site.db"
        processes.start("host_site", [sys.executable, "-m", "examples.host_site"], {
            **os.environ, "HOST": "127.0.0.1", "PORT": str(host_port),
            "MODERATION_URL": service_url, "MODERATION_API_KEY": site["api_key"],
            "WEBHOOK_SECRET": site["webhook_secret"], "HOST_SITE_DB": str(host_db)})
        wait_until(lambda: requests.get(f"{service_url}/readyz", timeout=2).status_code == 200,
                   "the service to be ready", processes, timeout=60)
        wait_until(lambda: requests.get(f"{host_url}/articles/{ARTICLE}", timeout=2).ok,
                   "the host site to be up", processes)
        mark("service and host site up")

        # Readers comment through the host site's form; the service holds every comment.
        ids: dict[str, int] = {}
        for number, (key, author, text, parent, _) in enumerate(SUBMISSIONS):
            form = {"author_id": f"reader-{number}", "name": author, "text": text,
                    "client_id": uuid.uuid4().hex, "parent_id": str(ids[parent]) if parent else ""}
            answer = requests.post(f"{host_url}/articles/{ARTICLE}/comments", data=form,
                                   allow_redirects=False, timeout=30)
            assert answer.status_code == 303, answer.text
            location = urlsplit(answer.headers["Location"])
            assert location.path == f"/articles/{ARTICLE}"
            query = parse_qs(location.query)
            assert query["submitted"] == ["pending_review"], (key, query)
            ids[key] = int(query["comment"][0])
        page = requests.get(f"{host_url}/articles/{ARTICLE}?submitted=pending_review",
                            timeout=10).text
        assert "held for review" in page and CommentTree(page).parent_of == {}

        mark("comments submitted")

        # A moderator decides through the moderation API.
        def decide(key: str, action: str, reason: str | None = None) -> None:
            body = {"action": action, **({"reason": reason} if reason else {})}
            response = requests.post(f"{service_url}/v1/moderation/comments/{ids[key]}/decision",
                                     headers=moderator, json=body, timeout=10)
            assert response.status_code == 200, response.text

        for key, _, _, _, decision in SUBMISSIONS:
            if decision in ("approve", "approve-then-remove"):
                decide(key, "approve")
            elif decision == "reject":
                decide(key, "reject", "spam" if key == "spam" else "abuse")
        decide("removed", "remove", "off-topic")
        approved = {ids[key] for key, *_, decision in SUBMISSIONS if decision == "approve"}
        hidden = {ids[key] for key, *_, decision in SUBMISSIONS if decision != "approve"}

        def service_events() -> list[dict]:
            events, after = [], None
            while True:
                page = requests.get(f"{service_url}/v1/events", headers=site_key, timeout=10,
                                    params={"limit": 200, **({"after": after} if after else {})})
                assert page.status_code == 200, page.text
                if not page.json()["items"]:
                    return events
                events += page.json()["items"]
                after = page.json()["next_cursor"]

        def host_messages() -> list[str]:
            with sqlite3.connect(host_db) as connection:
                return sorted(row[0] for row in connection.execute(
                    "SELECT id FROM webhook_messages"))

        def converged() -> CommentTree | None:
            tree = CommentTree(requests.get(f"{host_url}/articles/{ARTICLE}", timeout=10).text)
            delivered = all(e["delivery"] == "delivered" for e in service_events())
            if set(tree.parent_of) == approved and delivered:
                return tree
            return None

        tree = wait_until(converged, "the host page to show exactly the approved comments",
                          processes)
        mark("host page shows the approved comments")
        texts = {key: text for key, _, text, _, _ in SUBMISSIONS}
        for key, *_, decision in SUBMISSIONS:
            if decision == "approve":
                assert tree.text_of[ids[key]] == texts[key]
        html = requests.get(f"{host_url}/articles/{ARTICLE}", timeout=10).text
        for key in ("spam", "rude", "removed", "waiting"):
            assert texts[key] not in html
        assert "&lt;script&gt;alert(" in html and "<script>alert(" not in html
        assert tree.parent_of[ids["reply"]] == ids["first"]
        assert hidden.isdisjoint(tree.parent_of)

        # Every event the service wrote reached the host once, and only those.
        events = service_events()
        # Each comment held at submission, then 5 approvals, 2 rejections and 1 removal.
        assert len(events) == len(SUBMISSIONS) + 5 + 2 + 1
        assert host_messages() == sorted(e["message_id"] for e in events)

        # The service's own listing agrees.
        listing = requests.get(f"{service_url}/v1/articles/{ARTICLE}/comments",
                               headers=site_key, timeout=10)
        assert listing.status_code == 200, listing.text
        service_parent_of: dict[int, int | None] = {}

        def walk(threads: list[dict], parent: int | None) -> None:
            for thread in threads:
                service_parent_of[thread["comment"]["id"]] = parent
                walk(thread["replies"], thread["comment"]["id"])

        walk(listing.json()["threads"], None)
        assert service_parent_of == tree.parent_of

        # At least once: every event delivered again (an admin's replay) changes nothing.
        with service_app.app_context():
            site_row = services(service_app).sites.find("gazette")
            replayed = services(service_app).publishing.replay(
                site_row, datetime(2000, 1, 1, tzinfo=timezone.utc))
            db.session.remove()
            db.engine.dispose()
        assert replayed == len(events)
        wait_until(lambda: all(e["delivery"] == "delivered" for e in service_events()),
                   "the replayed events to be delivered", processes)
        mark("replayed events delivered")
        assert host_messages() == sorted(e["message_id"] for e in events)
        received = len(re.findall(r"POST /webhooks/moderation HTTP/1.1\S*\" 204",
                                  processes.output("host_site")))
        assert received >= 2 * len(events)
        again = CommentTree(requests.get(f"{host_url}/articles/{ARTICLE}", timeout=10).text)
        assert (again.parent_of, again.text_of) == (tree.parent_of, tree.text_of)
        failed = False
    finally:
        processes.stop()
        if failed:
            processes.dump()
        drop_everything(service_app)

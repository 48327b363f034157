"""Request ids, JSON log lines, and secrets that never reach a log."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import time

import pytest
import requests
from sqlalchemy import text

from service.extensions import db
from service.log import JsonFormatter, TextFormatter, configure_logging
from service.publishing.worker import DeliveryWorker
from tests.conftest import PASSWORD, ROOT, csrf_token_of, make_user
from tests.service.publishing.conftest import receiver  # noqa: F401 (a fixture)

NEW_ID = re.compile(r"[0-9a-f]{32}")


def test_a_sane_request_id_is_kept_any_other_replaced(client):
    kept = client.get("/healthz", headers={"X-Request-Id": "host-site.req_42-a"})
    assert kept.headers["X-Request-Id"] == "host-site.req_42-a"
    for offered in ("x" * 65, "two words", "id\"><script>", "ünïcode", ""):
        response = client.get("/healthz", headers={"X-Request-Id": offered})
        assert NEW_ID.fullmatch(response.headers["X-Request-Id"]), offered
    first, second = client.get("/healthz"), client.get("/healthz")
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]


def test_every_error_names_its_request_id(client, site):
    for response in (client.get("/v1/comments/999", headers=site.headers),
                     client.get("/v1/comments/1"),
                     client.post("/v1/comments", headers=site.headers, json={"text": ""}),
                     client.get("/nowhere")):
        assert response.json["request_id"] == response.headers["X-Request-Id"]
        assert {"code", "status", "message"} <= set(response.json)
    page = client.get("/moderation/nowhere", headers={"X-Request-Id": "page-1"})
    assert page.status_code == 404 and "page-1" in page.get_data(as_text=True)


def test_a_log_line_is_one_json_object_with_the_request_id(app, caplog):
    hostile = 'first line\n{"level": "CRITICAL", "message": "forged"}\r\x1b[31m'
    with app.test_request_context("/v1/comments", headers={"X-Request-Id": "req-7"}):
        logging.getLogger("service.test").warning("comment text: %s", hostile)
    (record,) = [r for r in caplog.records if r.name == "service.test"]
    assert record.request_id == "req-7"
    line = JsonFormatter().format(record)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    entry = json.loads(line)
    assert entry["message"] == f"comment text: {hostile}"
    assert (entry["level"], entry["logger"], entry["request_id"]) == \
        ("WARNING", "service.test", "req-7")
    assert entry["time"].endswith("+00:00")
    text = TextFormatter().format(record)
    assert "\n" not in text and "[req-7]" in text and "\\n{" in text


def test_the_app_logs_through_one_handler_in_the_chosen_format(monkeypatch):
    """Building the app twice (tests, the CLI) must not write each line twice."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    configure_logging("INFO", "json")
    configure_logging("INFO", "json")
    (handler,) = root.handlers
    assert isinstance(handler.formatter, JsonFormatter) and root.level == logging.INFO
    configure_logging("DEBUG", "text")
    assert root.handlers == [handler] and isinstance(handler.formatter, TextFormatter)


def test_gunicorn_access_lines_carry_the_request_id_and_no_query(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "APP_ENV": "production", "SECRET_KEY": "s" * 32,
           "INSTANCE_PATH": str(tmp_path), "MODEL_DIR": str(tmp_path / "models"),
           "PORT": str(port), "WEB_CONCURRENCY": "1", "LOG_FORMAT": "json"}
    access_log = tmp_path / "access.log"
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
                                "--access-logfile", str(access_log), "wsgi:app"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=30,
                                        params={"q": "a-search", "author": "erased-reader"},
                                        headers={"X-Request-Id": "edge-1"})
                break
            except requests.RequestException:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert response.headers["X-Request-Id"] == "edge-1"
        while "edge-1" not in (access_log.read_text() if access_log.exists() else ""):
            assert time.monotonic() < deadline, "no access line"  # written after the answer
            time.sleep(0.1)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    (access,) = [json.loads(line) for line in access_log.read_text().splitlines()]
    assert access["logger"] == "gunicorn.access" and access["request_id"] == "edge-1"
    assert "GET /healthz HTTP/1.1" in access["message"]
    # No query string: a moderator's search would outlive the author's erasure there.
    assert "a-search" not in access["message"] and "erased-reader" not in access["message"]
    assert all(json.loads(line)["level"] for line in stderr.splitlines())  # JSON, every line


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WEBHOOK_ALLOW_HTTP": "1", "WEBHOOK_ALLOW_PRIVATE": "1",
            "RATE_LIMITS": "1", "RATE_LIMIT_AUTHOR": "1/hour", "RATE_LIMIT_READS": "2/hour",
            "REDIS_URL": ""}


def test_no_key_token_password_or_webhook_secret_is_ever_logged(
        app, client, runner, receiver, caplog):  # noqa: F811 (receiver: the imported fixture)
    caplog.set_level(logging.DEBUG)
    created = runner.invoke(args=["sites", "create", "bugle", "--webhook-url", receiver.url,
                                  "--json"])
    assert created.exit_code == 0, created.output
    site = json.loads(created.output)
    key, secret = site["api_key"], site["webhook_secret"]
    auth = {"Authorization": f"Bearer {key}"}
    wrong_key = key[:-4] + "AAAA"
    secrets = [key, key.split("_", 2)[2], secret, secret.removeprefix("whsec_"), wrong_key]

    # A site submits (the second comment by one author is refused by the rate limit), reads,
    # and tries a wrong key.
    for _ in range(2):
        client.post("/v1/comments", headers=auth, json={
            "article_id": "a-1", "author": {"id": "reader-1"},
            "text": "A fair point about the harbour plans."})
    for _ in range(3):
        client.get("/v1/events", headers=auth)
    assert client.get("/v1/events",
                      headers={"Authorization": f"Bearer {wrong_key}"}).status_code == 401

    # A moderator's token, a wrong token, a failed and a good sign-in.
    account = make_user(app, "mary", sites=("bugle",))
    secrets += [account.token, account.token.split("_", 2)[2], PASSWORD, "hunter2-typo!"]
    assert client.get("/v1/moderation/queue", headers=account.headers).status_code == 200
    assert client.get("/v1/moderation/queue", headers={
        "Authorization": f"Bearer {account.token}x"}).status_code == 401
    for password in ("hunter2-typo!", PASSWORD):
        token = csrf_token_of(client.get("/login").get_data(as_text=True))
        client.post("/login", data={"username": "mary", "password": password,
                                    "csrf_token": token})

    # The webhook is signed and delivered, then signed with a rotated secret beside the old.
    with app.app_context():
        worker = DeliveryWorker(db.session, app.config["MODERATION_SETTINGS"].webhook_policy,
                                name="test", timeout=5)
        assert worker.run_once() == 1
    rotated = runner.invoke(args=["sites", "rotate-secret", "bugle"])
    # The command's own line, whatever log lines share the captured output with it.
    new_secret = re.search(r"New webhook signing secret for 'bugle': (whsec_\S+)",
                           rotated.output).group(1)
    secrets += [new_secret, new_secret.removeprefix("whsec_")]
    client.post("/v1/comments", headers=auth, json={
        "article_id": "a-1", "author": {"id": "reader-2"}, "text": "Thanks for the update."})
    with app.app_context():
        assert worker.run_once() == 1
    assert len(receiver.received) == 2

    logged = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    assert "ratelimit" in logged  # the refusals were logged: the capture works
    for value in secrets:
        assert value not in logged, f"a secret reached the log: {value[:6]}..."


def test_a_failed_statement_is_logged_without_its_parameters(app, client, site, caplog):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer 500, as in production

    def broken():
        db.session.execute(text("SELECT :key FROM no_such_table"), {"key": site.api_key})

    app.add_url_rule("/v1/broken", "broken", broken)
    response = client.get("/v1/broken")
    assert response.status_code == 500
    assert response.json["request_id"] == response.headers["X-Request-Id"]
    logged = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    assert "no_such_table" in logged and response.json["request_id"] in logged
    assert site.api_key not in logged

"""End to end over real HTTP: migrations, the sites CLI and gunicorn, as `make run` uses them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from service import create_app
from service.extensions import db
from tests.conftest import ROOT

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served_model_dir(model_dir) -> Path:
    """The model registry gunicorn serves from (a test module may give its own)."""
    return model_dir


@pytest.fixture
def server(app_config, served_model_dir, tmp_path):
    """A migrated database, a site created by the CLI, and gunicorn with two workers.

    Yields the base URL, the site's auth headers and a function running the flask CLI."""
    app_config = {**app_config, "MODEL_DIR": str(served_model_dir)}
    app = create_app(app_config)
    with app.app_context():  # start PostgreSQL from an empty schema, as a fresh install does
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        db.engine.dispose()
    port = free_port()
    env = {**os.environ, **app_config, "APP_ENV": "development", "PORT": str(port),
           "WEB_CONCURRENCY": "2"}

    def flask(*args: str) -> str:
        result = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    flask("db", "upgrade")
    site = json.loads(flask("sites", "create", "e2e", "--json"))
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, "gunicorn did not become ready"
            time.sleep(0.2)
        yield base, {"Authorization": f"Bearer {site['api_key']}"}, flask
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        with app.app_context():
            db.drop_all()
            with db.engine.begin() as connection:
                connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
            db.engine.dispose()


def test_every_worker_loads_the_model_before_its_first_request(server, tmp_path):
    base, headers, _ = server
    assert requests.get(f"{base}/readyz", timeout=5).status_code == 200
    deadline = time.monotonic() + 30  # both workers have started by now; their lines follow
    while (lines := (tmp_path / "gunicorn.log").read_text().count("scores with model")) < 2:
        assert time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
        time.sleep(0.2)
    assert lines == 2


def test_submit_score_and_read_back_over_http(server):
    base, auth, _ = server
    clean = requests.post(f"{base}/v1/comments", headers=auth, timeout=10, json={
        "article_id": "world/42", "article_title": "Floods", "author": {"id": "r1"},
        "text": "Thoughts with everyone in the flooded villages tonight."})
    assert clean.status_code == 201, clean.text
    assert clean.json()["status"] == "approved"
    abusive = requests.post(f"{base}/v1/comments", headers=auth, timeout=10, json={
        "article_id": "world/42", "author": {"id": "r2"}, "parent_id": clean.json()["id"],
        "text": "Shut up you pathetic moron, I know where you live and I will hurt you."})
    assert abusive.json()["status"] == "rejected"
    read = requests.get(f"{base}/v1/comments/{abusive.json()['id']}", headers=auth, timeout=10)
    assert read.json() == abusive.json()
    assert requests.get(f"{base}/v1/comments/1", timeout=10).status_code == 401
    oversized = requests.post(f"{base}/v1/comments", headers={**auth, "Content-Type": "application/json"},
                              data=b"{" + b" " * 70_000 + b"}", timeout=10)
    assert oversized.status_code == 413
    assert oversized.json()["code"] == 413


def test_concurrent_replays_store_one_comment(server):
    base, auth, _ = server
    body = {"article_id": "race", "author": {"id": "r1"}, "client_id": "same-1",
            "text": "Posting twice because my connection dropped."}

    def post(_):
        return requests.post(f"{base}/v1/comments", headers=auth, json=body, timeout=30)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(post, range(16)))
    assert sorted({r.status_code for r in responses}) in ([200, 201], [201])
    assert [r.status_code for r in responses].count(201) == 1
    assert len({r.json()["id"] for r in responses}) == 1

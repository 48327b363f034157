"""Slow clients cannot take the service down: 200 connections that send a request's headers a
line at a time (a "slowloris") leave every /healthz probe and every real submission answered,
on gunicorn as `make run` and the Docker image start it.

Bounded: 200 connections to 127.0.0.1 for SLOW_SECONDS, probes twice a second. The latency
the other clients see meanwhile is measured by `python -m bench.slow_clients`, not here.
"""

from __future__ import annotations

import re
import shlex
import socket
import time

import requests

from bench.abuse import SlowClients
from service import create_app
from service.extensions import db
from tests.conftest import ROOT, make_site
from tests.reliability.conftest import service_env

SLOW_CONNECTIONS = 200
SLOW_SECONDS = 20
LINE_EVERY = 2.0


def docker_gunicorn_command() -> list[str]:
    """The gunicorn command the Docker image ends its CMD with."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    found = re.search(r"exec (gunicorn [^\"&]+)", dockerfile)
    assert found, "the Dockerfile's CMD no longer execs gunicorn"
    return shlex.split(found.group(1).strip())


def test_the_docker_image_serves_with_the_settings_make_run_uses():
    """The slow-client defence lives in gunicorn.conf.py: both must start gunicorn with it."""
    assert docker_gunicorn_command() == ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
    makefile = (ROOT / "Makefile").read_text()
    assert "$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app" in makefile


def test_two_hundred_slow_clients_leave_probes_and_submissions_answered(
        gunicorn, model_dir, tmp_path):
    env = service_env(f"sqlite:///{tmp_path / 'slow.db'}", model_dir, tmp_path)
    app = create_app(env)
    with app.app_context():
        db.create_all()
    headers = make_site(app, "slow-site").headers
    server = gunicorn(env)

    probes, submissions, failures = 0, 0, []
    with SlowClients(server.port, SLOW_CONNECTIONS, every=LINE_EVERY) as attack:
        time.sleep(LINE_EVERY * 1.5)  # every slow connection is open and mid-headers
        deadline = time.monotonic() + SLOW_SECONDS
        while time.monotonic() < deadline:
            try:
                probe = requests.get(f"{server.base}/healthz", timeout=5)
                probes += 1
                if probe.status_code != 200:
                    failures.append(f"/healthz answered {probe.status_code}")
                posted = requests.post(
                    f"{server.base}/v1/comments", headers=headers, timeout=5,
                    json={"article_id": "slow", "author": {"id": f"r{submissions}"},
                          "text": f"The bypass plan number {submissions} makes sense."})
                submissions += 1
                if posted.status_code != 201:
                    failures.append(f"a submission answered {posted.status_code}")
            except requests.RequestException as error:
                failures.append(f"no answer within 5 s: {error!r}")
            time.sleep(0.5)
        cut_off = attack.reopened
    assert not failures, (f"{len(failures)} failures beside {SLOW_CONNECTIONS} slow "
                          f"connections, e.g. {failures[:3]}\n" + server.tail())
    assert probes >= SLOW_SECONDS and submissions >= SLOW_SECONDS
    # A connection whose headers do not arrive in time is ended, not kept for ever.
    assert cut_off > 0


def test_a_body_sent_a_byte_at_a_time_is_cut_off_with_408(gunicorn, model_dir, tmp_path):
    """Headers in time, then a body that trickles: the request ends at REQUEST_TIMEOUT."""
    env = service_env(f"sqlite:///{tmp_path / 'slow.db'}", model_dir, tmp_path)
    app = create_app(env)
    with app.app_context():
        db.create_all()
    key = make_site(app, "slow-site").headers["Authorization"]
    server = gunicorn({**env, "REQUEST_TIMEOUT": "2"})
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/comments HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     + f"Authorization: {key}\r\n".encode()
                     + b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
        answer = b""
        for _ in range(20):  # a byte every half second: 10 s, if nothing stopped it
            try:
                sock.sendall(b" ")
                time.sleep(0.5)
            except OSError:
                break
        try:
            while chunk := sock.recv(4096):
                answer += chunk
        except OSError:
            pass
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert requests.get(f"{server.base}/healthz", timeout=5).status_code == 200

"""A real webhook receiver on loopback, answering as each test tells it to."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Receiver:
    url: str
    received: list[dict] = field(default_factory=list)
    # Each answer is (status, headers); the last one repeats.
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=lambda: [(204, {})])

    def answer(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.answers = [(status, headers or {})]


@pytest.fixture
def receiver():
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            state.received.append({"headers": {k.lower(): v for k, v in self.headers.items()},
                                   "body": body, "json": json.loads(body)})
            status, headers = state.answers[0] if len(state.answers) == 1 \
                else state.answers.pop(0)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def app_config(app_config):
    """Deliveries may go to the loopback receiver over plain http."""
    return {**app_config, "WEBHOOK_ALLOW_HTTP": "1", "WEBHOOK_ALLOW_PRIVATE": "1"}

"""A receiver that trickles its answer (a byte every half second, for ever) is cut off at the
delivery's deadline, which bounds the whole delivery, not each read. Loopback only; one
request, a few seconds."""

import socket
import threading
import time

import pytest

from service.publishing.transport import post
from service.webhook_urls import UrlPolicy


@pytest.fixture
def trickler():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    stop = threading.Event()

    def serve():
        conn, _ = server.accept()
        conn.recv(65536)
        for byte in b"HTTP/1.1 200 OK\r\n" * 100:  # never finishes within the test
            if stop.wait(0.5):
                break
            try:
                conn.send(bytes([byte]))
            except OSError:
                break
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    stop.set()
    server.close()


def test_a_trickling_receiver_is_cut_off_at_the_deadline(trickler):
    started = time.monotonic()
    with pytest.raises(OSError, match="no complete answer within 2 s"):
        post(trickler, {}, b"{}", policy=UrlPolicy(allow_http=True, allow_private=True),
             timeout=2.0)
    # Each byte came well within a per-read timeout of 2 s: only a total deadline stops it
    # (the whole answer would take 14 minutes).
    assert time.monotonic() - started < 60

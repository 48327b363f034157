"""One HTTP POST to a webhook URL, to the address that was checked (no SSRF, no rebinding).

The host is resolved once; every address it resolves to must be public unless the
settings allow private ones; the connection then goes to that very address, with the
host name kept for the Host header and TLS (certificate and SNI).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from service.webhook_urls import UnsafeUrl, UrlPolicy, check_url

MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]


def post(url: str, headers: dict[str, str], body: bytes, *, policy: UrlPolicy,
         timeout: float = 10.0) -> Response:
    """POST ``body``; raises :class:`UnsafeUrl`, or ``OSError`` for network errors and
    timeouts. Only the status and headers of the answer are kept (its body is read up to
    64 KB and dropped).

    ``timeout`` bounds the whole delivery (connecting, sending, the status line, headers and
    body together), not each read: a receiver that trickles its answer a byte at a time is
    cut off when it runs out, so one site cannot hold a worker for longer."""
    host, port, address = check_url(url, policy)
    assert address is not None
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = _PinnedHTTPS(host, port, address, timeout)
    else:
        connection = _PinnedHTTP(host, port, address, timeout)
    cut = threading.Event()
    deadline = threading.Timer(timeout, _cut_off, args=(connection, cut))
    deadline.daemon = True
    deadline.start()
    try:
        try:
            connection.request("POST", path, body=body,
                               headers={**headers, "user-agent": "comment-moderation-webhooks/1"})
        except (UnicodeError, http.client.InvalidURL) as error:
            # A URL stored before URLs were encoded when set (normalize_url): it can never
            # be sent as it is, which makes it the URL's fault, not the network's.
            raise UnsafeUrl(f"the URL cannot be sent to as it is: {error!r}") from None
        answer = connection.getresponse()
        answer.read(MAX_RESPONSE_BYTES)
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()})
    except (http.client.HTTPException, OSError) as error:
        if cut.is_set():  # cut off: say so, rather than what the cut left of the answer
            raise OSError(f"no complete answer within {timeout:g} s") from None
        if isinstance(error, http.client.HTTPException):
            raise OSError(f"bad HTTP answer: {error!r}") from None
        raise
    finally:
        deadline.cancel()
        connection.close()


def _cut_off(connection: http.client.HTTPConnection, cut: threading.Event) -> None:
    """End a delivery past its deadline: the read it is blocked in fails at once."""
    cut.set()
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # already closed
            pass


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)

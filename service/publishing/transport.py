"""One HTTP POST to a webhook URL, to the address that was checked (no SSRF, no rebinding).

The host is resolved once; every address it resolves to must be public unless the
settings allow private ones; the connection then goes to that very address, with the
host name kept for the Host header and TLS (certificate and SNI).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

MAX_RESPONSE_BYTES = 64 * 1024


class UnsafeUrl(Exception):
    """The URL may not be called: wrong scheme, or a host on a private network."""


@dataclass(frozen=True)
class UrlPolicy:
    allow_http: bool = False     # WEBHOOK_ALLOW_HTTP=1: plain http, for development
    allow_private: bool = False  # WEBHOOK_ALLOW_PRIVATE=1: loopback and private networks


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]


# What may stay as it is in a path or query; everything else (non-ASCII, spaces) is
# percent-encoded as UTF-8. "%" stays, so an encoded URL is encoded once.
_SAFE = "/%:@!$&'()*+,;=-._~?"


def normalize_url(url: str) -> str:
    """The URL as it will be sent: the host in IDNA (``bücher.example`` becomes
    ``xn--bcher-kva.example``), the path and query percent-encoded, no fragment. Raises
    :class:`UnsafeUrl` naming what is wrong (a port out of range, a host IDNA refuses)."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        raise UnsafeUrl("the port must be a number from 1 to 65535") from None
    if port == 0:
        raise UnsafeUrl("the port must be a number from 1 to 65535")
    host = parts.hostname or ""
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise UnsafeUrl(f"the host {host!r} is not a name IDNA can encode") from None
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (f"{userinfo}@" if userinfo else "") + host + (f":{port}" if port else "")
    return urlunsplit((parts.scheme.lower(), netloc, quote(parts.path, safe=_SAFE),
                       quote(parts.query, safe=_SAFE + "="), ""))


def check_url(url: str, policy: UrlPolicy, *,
              must_resolve: bool = True) -> tuple[str, int, str | None]:
    """The host, port and the address to connect to; raises :class:`UnsafeUrl`.

    ``must_resolve=False`` (when a URL is configured) lets a host that does not resolve yet
    pass: it is checked again at every delivery.
    """
    parts = urlsplit(url)
    if parts.scheme not in (("https", "http") if policy.allow_http else ("https",)):
        raise UnsafeUrl("webhook URLs must use https"
                        + ("" if policy.allow_http else " (WEBHOOK_ALLOW_HTTP=1 allows http)"))
    if not parts.hostname:
        raise UnsafeUrl("the webhook URL has no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        if not must_resolve:
            return parts.hostname, port, None
        raise UnsafeUrl(f"cannot resolve {parts.hostname!r}: {error}") from None
    addresses = [info[4][0] for info in infos]
    if not policy.allow_private:
        for address in addresses:
            if not _public(address):
                raise UnsafeUrl(f"{parts.hostname!r} resolves to {address}, a loopback, private, "
                                "link-local or metadata address (WEBHOOK_ALLOW_PRIVATE=1 "
                                "allows it)")
    return parts.hostname, port, addresses[0]


# IPv6 ranges that carry an IPv4 address, and so may reach one on this network: the
# IPv4-compatible ::a.b.c.d (deprecated), NAT64 (64:ff9b::/96 and the local 64:ff9b:1::/48),
# 6to4 (2002::/16) and Teredo (2001::/32). None is a webhook receiver's address.
_EMBEDS_IPV4 = [ipaddress.ip_network(n) for n in
                ("::/96", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32")]


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv6Address) and any(ip in n for n in _EMBEDS_IPV4):
        return False
    # is_global is False for loopback, private, link-local (169.254.169.254, the cloud
    # metadata address, included), shared (100.64/10), reserved and unspecified addresses.
    return ip.is_global and not ip.is_multicast


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

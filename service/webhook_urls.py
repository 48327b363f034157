"""Which webhook URLs may be called: the scheme, the host's addresses (public unless the
settings allow private ones), and the URL as it will be sent. Sites check a URL when it is
set; the delivery worker checks it again at every delivery (``publishing/transport.py``).
A module of its own, below both, so that neither imports the other."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit


class UnsafeUrl(Exception):
    """The URL may not be called: wrong scheme, or a host on a private network."""


@dataclass(frozen=True)
class UrlPolicy:
    allow_http: bool = False     # WEBHOOK_ALLOW_HTTP=1: plain http, for development
    allow_private: bool = False  # WEBHOOK_ALLOW_PRIVATE=1: loopback and private networks


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

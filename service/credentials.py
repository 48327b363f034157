"""Bearer credentials (site API keys, moderator tokens): issued once, stored only as a hash."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

# Compared against when no row has the presented prefix, so a wrong prefix costs as much
# time as a wrong secret.
_DUMMY_HASH = hashlib.sha256(b"no such credential").hexdigest()


@dataclass(frozen=True)
class NewCredential:
    """The credential to show once, the prefix that finds its row, and the hash that proves it."""

    value: str
    prefix: str
    digest: str


class CredentialKind:
    """A kind of bearer credential, such as ``mk`` for site keys: ``mk_<12 hex>_<43 chars>``."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self._pattern = re.compile(rf"^{tag}_([0-9a-f]{{12}})_[A-Za-z0-9_-]{{43}}$")

    def issue(self) -> NewCredential:
        prefix = secrets.token_hex(6)
        value = f"{self.tag}_{prefix}_{secrets.token_urlsafe(32)}"
        return NewCredential(value, prefix, digest(value))

    def prefix_of(self, value: str) -> str | None:
        """The lookup prefix of a well-formed credential of this kind, else None."""
        match = self._pattern.match(value)
        return match.group(1) if match else None


def digest(value: str) -> str:
    # The credentials carry 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(value.encode()).hexdigest()


def verify(value: str, stored_digest: str | None) -> bool:
    """Whether ``value`` hashes to ``stored_digest``, in constant time (also when None)."""
    return hmac.compare_digest(digest(value), stored_digest or _DUMMY_HASH) and bool(stored_digest)

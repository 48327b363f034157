"""Creating accounts and checking who is asking: password logins with back-off, API tokens."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from service.accounts.models import LoginThrottle, Role, User
from service.credentials import CredentialKind, verify
from service.errors import Conflict, InvalidInput, NotFound
from service.extensions import dialect_of, utcnow
from service.sites.models import Site

_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
MODERATOR_TOKENS = CredentialKind("mt")
# Failed logins allowed before the account backs off; each further failure doubles the wait.
FREE_FAILURES = 5
FIRST_LOCK_SECONDS = 30
MAX_LOCK_SECONDS = 3600
# Checked against when the username is unknown, so that costs as long as a wrong password.
_DUMMY_PASSWORD_HASH = generate_password_hash("not a password of anyone")


@dataclass(frozen=True)
class LoginResult:
    """A login attempt's outcome: the user, or why not (``retry_after`` when backing off)."""

    user: User | None
    retry_after: int = 0


class AccountService:
    """Moderator and admin accounts."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, username: str, password: str, role: str,
               site_names: list[str] | tuple[str, ...] = ()) -> User:
        if not _USERNAME.fullmatch(username):
            raise InvalidInput({"username": ["1-80 letters, digits, '.', '_' or '-'"]})
        if role not in {r.value for r in Role}:
            raise InvalidInput({"role": [f"must be one of {', '.join(r.value for r in Role)}"]})
        _check_password(password)
        if self.find(username) is not None:
            raise Conflict(f"a user named {username!r} already exists")
        user = User(username=username, password_hash=generate_password_hash(password), role=role)
        user.sites = self._sites(site_names)
        self.session.add(user)
        self.session.commit()
        return user

    def find(self, username: str) -> User | None:
        return self.session.scalar(select(User).where(User.username == username))

    def get(self, username: str) -> User:
        user = self.find(username)
        if user is None:
            raise NotFound(f"no user named {username!r}")
        return user

    def by_session(self, session_id: str) -> User | None:
        """The user a session belongs to, unless it has been ended since (its epoch is past)
        or the user is disabled."""
        user_id, _, epoch = session_id.partition(".")
        if not (user_id.isascii() and user_id.isdigit() and epoch.isascii() and epoch.isdigit()
                and len(user_id) <= 18 and len(epoch) <= 18):
            return None
        user = self.session.get(User, int(user_id))
        if user is None or user.session_epoch != int(epoch) or not user.is_active:
            return None
        return user

    def end_sessions(self, user: User) -> None:
        """End every session of the user, in every browser (sign-out does)."""
        self.session.execute(update(User).where(User.id == user.id)
                             .values(session_epoch=User.session_epoch + 1))
        self.session.commit()

    def set_disabled(self, username: str, disabled: bool) -> User:
        """Disable an account (no sign-in, every session and its API token ended) or enable it
        again (a new token is needed: ``users token``)."""
        user = self.get(username)
        user.disabled_at = utcnow() if disabled else None
        if disabled:
            user.token_prefix = user.token_hash = None
            user.session_epoch += 1
        self.session.commit()
        return user

    def revoke_token(self, username: str) -> None:
        """The user's API token stops working; no new one is issued."""
        user = self.get(username)
        user.token_prefix = user.token_hash = None
        self.session.commit()

    def list(self) -> list[User]:
        return list(self.session.scalars(select(User).order_by(User.username)))

    def assign_sites(self, username: str, site_names: list[str] | tuple[str, ...]) -> User:
        user = self.get(username)
        user.sites = self._sites(site_names)
        self.session.commit()
        return user

    def set_password(self, username: str, password: str) -> None:
        _check_password(password)
        user = self.get(username)
        user.password_hash = generate_password_hash(password)
        user.session_epoch += 1  # every session signed in with the old password ends
        self.session.execute(delete(LoginThrottle).where(
            LoginThrottle.username.startswith(_user_prefix(username), autoescape=True)))
        self.session.commit()

    def issue_token(self, username: str) -> str:
        """A new API token for the user (shown once); any earlier token stops working."""
        user = self.get(username)
        token = MODERATOR_TOKENS.issue()
        user.token_prefix, user.token_hash = token.prefix, token.digest
        self.session.commit()
        return token.value

    def authenticate_token(self, token: str) -> User | None:
        prefix = MODERATOR_TOKENS.prefix_of(token)
        user = None
        if prefix is not None:
            user = self.session.scalar(select(User).where(User.token_prefix == prefix))
        ok = verify(token, user.token_hash if user else None)
        return user if ok and user is not None and user.is_active else None

    def login(self, username: str, password: str, *, address: str = "",
              now: datetime | None = None) -> LoginResult:
        """Check a password. After repeated failures from one client address the username
        backs off there: attempts from that address are refused unchecked until
        ``retry_after`` seconds have passed, right password or not. Counted per username and
        address together, so a stranger's guesses cannot lock a moderator out of their own
        desk.

        Each attempt is counted (and the back-off set) before the password is checked, in one
        locked row, so parallel guesses get no more checks than sequential ones; unknown
        usernames back off the same way, so a refusal says nothing about who has an account.
        """
        now = now or utcnow()
        username = username[:80]
        throttle = _throttle_key(username, address)
        retry_after = self._count_attempt(throttle, now)
        if retry_after:
            return LoginResult(None, retry_after)
        user = self.find(username) if len(password) <= MAX_PASSWORD else None
        if not check_password_hash(user.password_hash if user else _DUMMY_PASSWORD_HASH,
                                   password[:MAX_PASSWORD]) or user is None \
                or not user.is_active:
            return LoginResult(None)
        self.session.execute(delete(LoginThrottle).where(LoginThrottle.username == throttle))
        self.session.commit()
        return LoginResult(user)

    def _count_attempt(self, username: str, now: datetime) -> int:
        """Count an attempt under ``username`` (a throttle key: see ``_throttle_key``); the
        seconds to wait if it is backing off, else 0."""
        self.session.execute(dialect_of(self.session).insert(LoginThrottle)
                             .values(username=username, attempts=0)
                             .on_conflict_do_nothing(index_elements=["username"]))
        attempts = self.session.scalar(
            update(LoginThrottle)
            .where(LoginThrottle.username == username,
                   (LoginThrottle.locked_until.is_(None)) | (LoginThrottle.locked_until <= now))
            .values(attempts=LoginThrottle.attempts + 1)
            .returning(LoginThrottle.attempts))
        if attempts is None:
            locked_until = self.session.scalar(
                select(LoginThrottle.locked_until).where(LoginThrottle.username == username))
            self.session.commit()
            return _seconds_until(locked_until, now)
        beyond = attempts - FREE_FAILURES
        if beyond >= 0:
            wait = min(FIRST_LOCK_SECONDS * 2 ** min(beyond, 20), MAX_LOCK_SECONDS)
            self.session.execute(update(LoginThrottle).where(LoginThrottle.username == username)
                                 .values(locked_until=now + timedelta(seconds=wait)))
        self.session.commit()
        return 0

    def _sites(self, names: list[str] | tuple[str, ...]) -> list[Site]:
        sites = []
        for name in dict.fromkeys(names):
            site = self.session.scalar(select(Site).where(Site.name == name))
            if site is None:
                raise NotFound(f"no site named {name!r}")
            sites.append(site)
        return sites


def _check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput({"password": [f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters"]})


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, int((moment - now).total_seconds() + 0.999))


def _throttle_key(username: str, address: str) -> str:
    """The back-off's key: the username and the client's address together, each hashed (it
    fits the column, and neither is anything to keep in the clear); it starts with
    ``_user_prefix`` so a new password can lift every back-off of the user."""
    return _user_prefix(username) + _digest(address)[:32]


def _user_prefix(username: str) -> str:
    return _digest(username)[:40] + ":"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()

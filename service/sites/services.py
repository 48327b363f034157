"""Creating sites, issuing and checking their API keys."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from classifier.policy import PRESETS, Policy, Rule, preset
from service.credentials import CredentialKind, verify
from service.errors import Conflict, InvalidInput, NotFound
from service.extensions import utcnow
from service.sites.models import Site
from service.webhook_urls import UnsafeUrl, UrlPolicy, check_url, normalize_url

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}")
_REASON = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _-]{0,39}")
SITE_KEYS = CredentialKind("mk")
DEFAULT_REJECT_REASONS = ("spam", "abuse", "hate", "threat", "obscene", "off-topic", "other")


@dataclass(frozen=True)
class IssuedKey:
    """A newly created site and the API key, which is shown once and never stored."""

    site: Site
    api_key: str


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def policy_of(stored: dict | None, default_preset: str) -> Policy:
    """The policy a site's stored JSON describes (None: the default preset as it is)."""
    stored = stored or {}
    overrides = {key: Rule(rule.get("hold_at"), rule.get("reject_at"))
                 for key, rule in (stored.get("overrides") or {}).items()}
    return preset(stored.get("preset") or default_preset, overrides)


def _stored(policy: Policy) -> dict:
    return {"preset": policy.preset,
            "overrides": {key: rule.as_json() for key, rule in policy.overrides.items()}}


def validate_webhook_url(url: str | None, policy: UrlPolicy) -> str | None:
    """The URL as it will be sent (``normalize_url``: IDNA host, percent-encoded path), after
    refusing one the worker would refuse: not https (unless allowed), a port out of range, or
    a host that resolves to a private address (unless allowed). The worker checks again at
    delivery."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise InvalidInput({"webhook_url": ["must be an http(s) URL of at most 2000 characters"]})
    try:
        url = normalize_url(url)
        if len(url) > 2000:
            raise UnsafeUrl("the URL is longer than 2000 characters once encoded")
        check_url(url, policy, must_resolve=False)
    except UnsafeUrl as error:
        raise InvalidInput({"webhook_url": [str(error)]}) from None
    return url


class SiteService:
    """Tenants and their credentials."""

    def __init__(self, session: Session, default_preset: str,
                 url_policy: UrlPolicy | None = None) -> None:
        if default_preset not in PRESETS:
            raise ValueError(f"no preset {default_preset!r}")
        self.session = session
        self.default_preset = default_preset
        self.url_policy = url_policy or UrlPolicy()

    def create(self, name: str, *, webhook_url: str | None = None,
               policy: str | None = None, rules: dict[str, Rule | None] | None = None
               ) -> IssuedKey:
        if not _NAME.fullmatch(name):
            raise InvalidInput({"name": ["1-100 letters, digits, spaces, '.', '_' or '-'"]})
        webhook_url = validate_webhook_url(webhook_url, self.url_policy)
        stored = None
        if policy is not None or rules:
            stored = _stored(self._changed(policy_of(None, self.default_preset), policy, rules))
        if self.find(name) is not None:
            raise Conflict(f"a site named {name!r} already exists")
        key = SITE_KEYS.issue()
        site = Site(name=name, key_prefix=key.prefix, key_hash=key.digest, webhook_url=webhook_url,
                    webhook_secret=new_webhook_secret(), policy=stored)
        self.session.add(site)
        self.session.commit()
        return IssuedKey(site=site, api_key=key.value)

    def find(self, name: str) -> Site | None:
        return self.session.scalar(select(Site).where(Site.name == name))

    def get(self, name: str) -> Site:
        site = self.find(name)
        if site is None:
            raise NotFound(f"no site named {name!r}")
        return site

    def list(self) -> list[Site]:
        return list(self.session.scalars(select(Site).order_by(Site.id)))

    def rotate_key(self, name: str) -> IssuedKey:
        """Issue a new key; the old one stops working at once."""
        site = self.get(name)
        key = SITE_KEYS.issue()
        site.key_prefix, site.key_hash = key.prefix, key.digest
        self.session.commit()
        return IssuedKey(site=site, api_key=key.value)

    def rotate_webhook_secret(self, name: str, *, grace_hours: int = 24) -> Site:
        """A new signing secret; the old one also signs for ``grace_hours``, so receivers
        can switch without dropping a message."""
        if not 0 <= grace_hours <= 24 * 30:
            raise InvalidInput({"grace_hours": ["must be between 0 and 720"]})
        site = self.get(name)
        site.previous_webhook_secret = site.webhook_secret if grace_hours else None
        site.previous_secret_expires_at = (utcnow() + timedelta(hours=grace_hours)
                                           if grace_hours else None)
        site.webhook_secret = new_webhook_secret()
        self.session.commit()
        return site

    def update(self, name: str, *, webhook_url: str | None = None,
               policy: str | None = None, rules: dict[str, Rule | None] | None = None,
               flags_to_review: int | None = None,
               reject_reasons: list[str] | None = None,
               auto_close_days: int | None = None) -> Site:
        """Change what is given. ``policy`` names a preset and clears the site's own rules;
        ``rules`` then replaces single rules (a None rule goes back to the preset's).
        ``auto_close_days``: articles close this many days after their first comment (0:
        never)."""
        site = self.get(name)
        if auto_close_days is not None and not 0 <= auto_close_days <= 3650:
            raise InvalidInput({"auto_close_days": ["must be between 0 (never) and 3650"]})
        if flags_to_review is not None and not 1 <= flags_to_review <= 1000:
            raise InvalidInput({"flags_to_review": ["must be between 1 and 1000"]})
        if reject_reasons is not None and not (
                1 <= len(reject_reasons) <= 20
                and all(_REASON.fullmatch(reason) for reason in reject_reasons)):
            raise InvalidInput({"reject_reasons": [
                "1 to 20 reasons of 1-40 letters, digits, spaces, '-' or '_'"]})
        webhook_url = validate_webhook_url(webhook_url, self.url_policy)
        if policy is not None or rules:
            site.policy = _stored(self._changed(self.policy(site), policy, rules))
        if webhook_url is not None:
            site.webhook_url = webhook_url
        if flags_to_review is not None:
            site.flags_to_review = flags_to_review
        if reject_reasons is not None:
            site.reject_reasons = list(dict.fromkeys(reject_reasons))
        if auto_close_days is not None:
            site.auto_close_days = auto_close_days or None
        self.session.commit()
        return site

    def authenticate(self, api_key: str) -> Site | None:
        """The site whose key this is, or None; the comparison runs in constant time."""
        prefix = SITE_KEYS.prefix_of(api_key)
        site = None
        if prefix is not None:
            site = self.session.scalar(select(Site).where(Site.key_prefix == prefix))
        return site if verify(api_key, site.key_hash if site else None) else None

    def default_policy(self) -> Policy:
        """What a site that chose nothing gets."""
        return policy_of(None, self.default_preset)

    def policy(self, site: Site) -> Policy:
        """The site's decision policy: its preset (the service's default unless it chose
        one) with its own rules on top."""
        return policy_of(site.policy, self.default_preset)

    @staticmethod
    def _changed(current: Policy, name: str | None,
                 rules: dict[str, Rule | None] | None) -> Policy:
        try:
            changed = current if name is None else preset(name)
            return changed.with_overrides(rules or {})
        except ValueError as error:
            raise InvalidInput({"policy" if name is not None and name not in PRESETS
                                else "rules": [str(error)]}) from None

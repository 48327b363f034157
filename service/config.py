"""Settings from environment variables, checked once at start-up.

A missing or invalid setting raises :class:`ConfigError` naming the variable, and the
entry points turn it into one clear line on stderr instead of a traceback.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from classifier.policy import DEFAULT_PRESET, PRESETS

ENVIRONMENTS = ("development", "production", "testing")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("json", "text")


class ConfigError(Exception):
    """A setting is missing or invalid; the message names it."""


@dataclass(frozen=True)
class RateLimits:
    """The host-site API's rate limits (``service/limits.py``), in the notation of the
    ``limits`` library ("600/minute", "10/second;500/hour"). Sites are counted by their id,
    authors by the site's author id within their site."""

    submissions: str = "600/minute"
    author: str = "10/minute"
    flags: str = "600/minute"
    reads: str = "3000/minute"
    # Password checks (scrypt, about 0.3 s of a worker each) per client address.
    sign_in: str = "20/minute"
    key_prefix: str = "moderation"  # of the counters' keys, to share one Redis


MODEL_STORES = ("files", "database")


@dataclass(frozen=True)
class Settings:
    env: str
    database_url: str
    secret_key: str
    log_level: str
    default_policy: str
    model_dir: Path
    training_data_dir: Path
    # Where trained models live: "files" (MODEL_DIR) or "database" (MODEL_DIR is then each
    # replica's cache: replicas on several hosts need no shared disk).
    model_store: str = "files"
    claim_seconds: int = 300
    webhook_allow_http: bool = False
    webhook_allow_private: bool = False
    # How much worse than the active model (in ROC-AUC, PR-AUC or error-rate points) a
    # candidate may be on the evaluation set and still be promoted.
    promotion_tolerance: float = 0.01
    # LOG_FORMAT: one JSON object a line (production's default) or text.
    log_format: str = "text"
    # Rate limits on the host-site API; None when RATE_LIMITS=0 (outside production).
    rate_limits: RateLimits | None = None
    # Where rate-limit counters live, shared by every worker; None: each process's memory.
    redis_url: str | None = None
    # Rejected and removed comments' text is erased this many days after the decision
    # (0: kept for ever).
    retain_rejected_days: int = 90
    # Bearer token /metrics asks for; unset: /metrics answers loopback callers only.
    metrics_token: str | None = None
    # Proxies in front whose X-Forwarded-For/-Proto are trusted (0: none; the client's own
    # headers are then ignored, since anyone can send them).
    trusted_proxies: int = 0

    @property
    def webhook_policy(self):
        from service.webhook_urls import UrlPolicy
        return UrlPolicy(allow_http=self.webhook_allow_http,
                         allow_private=self.webhook_allow_private)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], instance_path: Path) -> "Settings":
        env = _choice(environ, "APP_ENV", ENVIRONMENTS, default="production")
        # The presets and what each does to real comments: docs/CLASSIFIER.md.
        default_policy = _choice(environ, "DEFAULT_POLICY", tuple(PRESETS),
                                 default=DEFAULT_PRESET)
        database_url = environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'moderation.db'}"
        if not database_url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ConfigError("DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL")
        if database_url.startswith("postgresql:"):
            # psycopg 3 is the driver we ship; the bare scheme would ask for psycopg2.
            database_url = "postgresql+psycopg:" + database_url[len("postgresql:"):]
        root = Path(__file__).resolve().parent.parent
        model_store = _choice(environ, "MODEL_STORE", MODEL_STORES, default="files")
        if model_store == "database" and not database_url.startswith("postgresql"):
            # A promotion writes the pointer beside the transaction that holds SQLite's one
            # write lock: it would wait for itself. Replicas need PostgreSQL anyway.
            raise ConfigError("MODEL_STORE=database needs PostgreSQL "
                              "(DATABASE_URL=postgresql+psycopg://...); with SQLite keep "
                              "MODEL_STORE=files")
        return cls(
            env=env,
            database_url=database_url,
            secret_key=_secret_key(environ, env, instance_path),
            log_level=_choice(environ, "LOG_LEVEL", LOG_LEVELS, default="INFO", upper=True),
            default_policy=default_policy,
            model_dir=Path(environ.get("MODEL_DIR") or instance_path / "models"),
            training_data_dir=Path(environ.get("TRAINING_DATA_DIR") or root / "training_data"),
            model_store=model_store,
            claim_seconds=_whole_number(environ, "CLAIM_SECONDS", default=300, low=10, high=3600),
            webhook_allow_http=_flag(environ, "WEBHOOK_ALLOW_HTTP"),
            webhook_allow_private=_flag(environ, "WEBHOOK_ALLOW_PRIVATE"),
            promotion_tolerance=_fraction(environ, "PROMOTION_TOLERANCE", default=0.01),
            log_format=_choice(environ, "LOG_FORMAT", LOG_FORMATS,
                               default="json" if env == "production" else "text"),
            rate_limits=_rate_limits(environ, env),
            redis_url=_redis_url(environ),
            retain_rejected_days=_whole_number(environ, "RETAIN_REJECTED_DAYS", default=90,
                                               low=0, high=36500),
            metrics_token=_metrics_token(environ),
            trusted_proxies=_whole_number(environ, "TRUSTED_PROXIES", default=0, low=0, high=5),
        )


def _choice(environ: Mapping[str, str], name: str, allowed: tuple[str, ...], *,
            default: str, upper: bool = False) -> str:
    value = environ.get(name) or default
    value = value.upper() if upper else value.lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _fraction(environ: Mapping[str, str], name: str, *, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number between 0 and 1; got {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be a number between 0 and 1; got {raw!r}")
    return value


def _flag(environ: Mapping[str, str], name: str) -> bool:
    raw = (environ.get(name) or "0").strip().lower()
    if raw not in ("0", "1", "true", "false", "yes", "no"):
        raise ConfigError(f"{name} must be 1 or 0; got {raw!r}")
    return raw in ("1", "true", "yes")


def _whole_number(environ: Mapping[str, str], name: str, *, default: int, low: int,
                  high: int) -> int:
    raw = environ.get(name) or str(default)
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}; got {raw!r}")
    return int(raw)


def _metrics_token(environ: Mapping[str, str]) -> str | None:
    token = environ.get("METRICS_TOKEN") or None
    if token is not None and (len(token) < 16 or not token.isascii() or not token.isprintable()
                              or " " in token):
        raise ConfigError("METRICS_TOKEN must be at least 16 printable ASCII characters "
                          "without spaces")
    return token


def _secret_key(environ: Mapping[str, str], env: str, instance_path: Path) -> str:
    key = environ.get("SECRET_KEY", "")
    if key:
        if len(key) < 16:
            raise ConfigError("SECRET_KEY must be at least 16 characters long")
        return key
    if env == "production":
        raise ConfigError("SECRET_KEY is required when APP_ENV=production "
                          "(generate one with: python -c 'import secrets; print(secrets.token_hex(32))')")
    # Development and tests: one random key kept in the instance folder, so every gunicorn
    # worker and every restart signs sessions with the same key.
    path = instance_path / "dev-secret-key"
    instance_path.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def _rate_limits(environ: Mapping[str, str], env: str) -> RateLimits | None:
    # On in production; off in development and tests unless asked for, where one author
    # sends many comments on purpose (the suite, end-to-end tests, benchmarks).
    enabled = _flag(environ, "RATE_LIMITS") if environ.get("RATE_LIMITS") else env == "production"
    if not enabled:
        return None
    defaults = RateLimits()
    prefix = environ.get("RATE_LIMIT_KEY_PREFIX") or defaults.key_prefix
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", prefix):
        raise ConfigError("RATE_LIMIT_KEY_PREFIX must be 1 to 64 of A-Z a-z 0-9 . _ -; "
                          f"got {prefix!r}")
    return RateLimits(
        submissions=_rate(environ, "RATE_LIMIT_SUBMISSIONS", defaults.submissions),
        author=_rate(environ, "RATE_LIMIT_AUTHOR", defaults.author),
        flags=_rate(environ, "RATE_LIMIT_FLAGS", defaults.flags),
        reads=_rate(environ, "RATE_LIMIT_READS", defaults.reads),
        sign_in=_rate(environ, "RATE_LIMIT_SIGN_IN", defaults.sign_in),
        key_prefix=prefix,
    )


def _rate(environ: Mapping[str, str], name: str, default: str) -> str:
    from limits import parse_many
    raw = (environ.get(name) or default).strip()
    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a rate such as '600/minute' or "
                          f"'10/second;500/hour'; got {raw!r}") from None
    return raw


def _redis_url(environ: Mapping[str, str]) -> str | None:
    url = environ.get("REDIS_URL") or None
    if url is not None and not url.startswith(("redis://", "rediss://", "redis+unix://")):
        raise ConfigError("REDIS_URL must be a redis://, rediss:// or redis+unix:// URL")
    return url

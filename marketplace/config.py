"""Configuration: safe defaults, values from the environment, checked at start-up."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_SECRET_KEY = "dev-only-secret-key-change-me"  # noqa: S105 - refused in production
DEVELOPMENT_SITE_URL = "http://127.0.0.1:5000"  # what `make run` serves


# Seconds to connect to Redis and to wait for an answer: past them Redis counts as down.
REDIS_TIMEOUTS = {"socket_connect_timeout": 1, "socket_timeout": 1}


class ConfigError(RuntimeError):
    """The configuration cannot run safely."""


def normalise_database_url(url: str) -> str:
    """Accept a plain ``postgresql://`` URL and pick the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _list(value: str | None) -> list[str]:
    """A comma-separated list, without blanks."""
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def build_config(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the configuration for one app: defaults, then environment, then overrides."""
    env = os.environ
    instance = Path(instance_path)
    production = (overrides or {}).get("ENV_NAME", env.get("APP_ENV")) == "production"
    config: dict[str, Any] = {
        "ENV_NAME": env.get("APP_ENV", "development"),
        "SECRET_KEY": env.get("SECRET_KEY", DEFAULT_SECRET_KEY),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(
            env.get("DATABASE_URL", f"sqlite:///{instance / 'marketplace.sqlite'}")
        ),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": env.get("REDIS_URL", ""),
        "STRIPE_SECRET_KEY": env.get("STRIPE_SECRET_KEY", "sk_test_localstripe"),
        "STRIPE_PUBLISHABLE_KEY": env.get("STRIPE_PUBLISHABLE_KEY", "pk_test_localstripe"),
        "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET", "whsec_localstripe"),
        "STRIPE_API_BASE": env.get("STRIPE_API_BASE", "http://127.0.0.1:8420"),
        "STRIPE_JS_URL": env.get("STRIPE_JS_URL", "http://127.0.0.1:8420/js.stripe.com/v3/"),
        # Idempotency keys and PaymentIntent metadata name the site (several sites may share
        # one Stripe account); empty: the host of SITE_URL.
        "STRIPE_SITE_ID": env.get("STRIPE_SITE_ID", ""),
        # Currencies admins may price tiers and plans in (ISO codes); empty: every currency
        # of marketplace/money.py's table.
        "PAYMENT_CURRENCIES": env.get("PAYMENT_CURRENCIES", ""),
        "MAIL_SERVER": env.get("MAIL_SERVER", ""),
        "MAIL_PORT": int(env.get("MAIL_PORT", "587")),
        "MAIL_USERNAME": env.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD", ""),
        "MAIL_USE_TLS": _bool(env.get("MAIL_USE_TLS"), True),
        "MAIL_DEFAULT_SENDER": env.get(
            "MAIL_DEFAULT_SENDER", "Alumni <no-reply@alumni.example.org>"
        ),
        "MAIL_OUTBOX_FOLDER": env.get("MAIL_OUTBOX_FOLDER", str(instance / "outbox")),
        "UPLOAD_FOLDER": env.get("UPLOAD_FOLDER", str(instance / "uploads")),
        "MAX_CONTENT_LENGTH": 6 * 1024 * 1024,
        "MAX_UPLOAD_BYTES": 5 * 1024 * 1024,
        "PREFERRED_URL_SCHEME": env.get("PREFERRED_URL_SCHEME", "http"),
        # The site's public address: every absolute link (mails, API fields) is built on it,
        # never on the request's Host (marketplace.routing.absolute_url). Required in production.
        "SITE_URL": env.get("SITE_URL", "" if production else DEVELOPMENT_SITE_URL),
        # Hosts the site answers besides SITE_URL's (comma-separated); others get 400.
        "EXTRA_TRUSTED_HOSTS": _list(
            env.get("TRUSTED_HOSTS", "" if production else "localhost,127.0.0.1")
        ),
        "PROXY_FIX_X_FOR": int(env.get("PROXY_FIX_X_FOR", "0")),
        # Sessions: signed cookie plus a per-user version checked on every request.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_DURATION": timedelta(days=30),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
        "SESSION_IDLE_TIMEOUT": timedelta(hours=2),
        "SESSION_ABSOLUTE_TIMEOUT": timedelta(hours=12),
        "WTF_CSRF_TIME_LIMIT": None,
        # Argon2id; argon2-cffi's defaults (RFC 9106 low-memory profile) are the floor.
        "ARGON2_TIME_COST": 3,
        "ARGON2_MEMORY_COST": 65536,
        "ARGON2_PARALLELISM": 4,
        "BABEL_DEFAULT_LOCALE": "fr",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Paris",
        "LANGUAGES": ["fr", "en"],
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED"), True),
        "RATELIMIT_STORAGE_URI": env.get("REDIS_URL") or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        # Flask-Caching (marketplace/cache.py): shared in Redis when there is one, else in-process.
        "CACHE_TYPE": "RedisCache" if env.get("REDIS_URL") else "SimpleCache",
        "CACHE_REDIS_URL": env.get("REDIS_URL", ""),
        "CACHE_KEY_PREFIX": env.get("CACHE_KEY_PREFIX", "marketplace:"),
        "CACHE_DEFAULT_TIMEOUT": 300,
        # In-process: the table versions never expire, so they are the first entries pruned
        # past this many; keep it well above the cached listings' count.
        "CACHE_THRESHOLD": 10_000,
        # Visitors' public pages whole from that cache (marketplace/page_cache.py).
        "PAGE_CACHE_ENABLED": _bool(env.get("PAGE_CACHE_ENABLED"), True),
        # Signed-in pages that only read take their reader from that cache (accounts/loader.py).
        "READER_CACHE_ENABLED": _bool(env.get("READER_CACHE_ENABLED"), True),
        # Per worker: the visitor pages it keeps ready to send (checked against Redis's version).
        "PAGE_CACHE_LOCAL_BYTES": int(env.get("PAGE_CACHE_LOCAL_BYTES", str(32 * 1024 * 1024))),
        # A sliding window: ten attempts are ten, even across a minute boundary.
        "RATELIMIT_STRATEGY": "moving-window",
        "API_TOKEN_DAYS": 30,
        "ACCOUNT_TOKEN_HOURS": 48,
        "API_TITLE": "Alumni marketplace",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "API_SPEC_OPTIONS": {
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        },
        "ASSOCIATION_NAME": env.get("ASSOCIATION_NAME", "Réseau des anciens des lycées français"),
    }
    config.update(overrides or {})
    if str(config["RATELIMIT_STORAGE_URI"]).startswith(("redis://", "rediss://")):
        # Redis down must not take sign-in down: limits go on per process (Flask-Limiter logs
        # a warning and tries Redis again later), and a dead Redis answers within a second.
        config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
        config.setdefault("RATELIMIT_STORAGE_OPTIONS", dict(REDIS_TIMEOUTS))
    if config["CACHE_TYPE"] == "RedisCache":
        config.setdefault("CACHE_OPTIONS", dict(REDIS_TIMEOUTS))
    if "TRUSTED_HOSTS" not in (overrides or {}):
        # Flask answers 400 to any other Host (and X-Forwarded-Host, behind ProxyFix).
        site_host = urlsplit(config["SITE_URL"]).hostname
        config["TRUSTED_HOSTS"] = [
            *([site_host] if site_host else []),
            *config["EXTRA_TRUSTED_HOSTS"],
        ]
    if config["ENV_NAME"] == "production":
        config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
    if "SQLALCHEMY_DATABASE_URI" in (overrides or {}):
        config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(
            config["SQLALCHEMY_DATABASE_URI"]
        )
    config["PAYMENT_CURRENCIES"] = _currencies(config["PAYMENT_CURRENCIES"])
    validate(config)
    return config


def _currencies(value: Any) -> list[str]:
    """``PAYMENT_CURRENCIES`` as a list of known ISO codes (a string or a list is accepted)."""
    from marketplace.money import UnknownCurrency, parse_currency_list

    text = " ".join(value) if isinstance(value, list | tuple) else str(value or "")
    try:
        return parse_currency_list(text)
    except UnknownCurrency as error:
        raise ConfigError(f"PAYMENT_CURRENCIES names an unknown currency: {error}") from error


def validate(config: dict[str, Any]) -> None:
    """Refuse a production configuration that is not safe to serve."""
    if config["ENV_NAME"] != "production":
        return
    secret = config.get("SECRET_KEY") or ""
    if not secret or secret == DEFAULT_SECRET_KEY or len(secret) < 32:
        raise ConfigError("Production needs SECRET_KEY: a random value of 32 characters or more.")
    if config.get("PREFERRED_URL_SCHEME") != "https":
        raise ConfigError("Production needs PREFERRED_URL_SCHEME=https.")
    site = urlsplit(config.get("SITE_URL") or "")
    if site.scheme != "https" or not site.hostname or site.query or site.fragment:
        raise ConfigError(
            "Production needs SITE_URL: the site's public https address, such as "
            "https://alumni.example.org (every link in e-mails is built on it)."
        )

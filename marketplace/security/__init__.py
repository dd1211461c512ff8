"""Passwords, sessions, permissions and response headers."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache, wraps
from importlib import resources
from typing import Any, TypeVar
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import update

from marketplace.database import utcnow
from marketplace.extensions import db, login_manager

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128


def hasher() -> PasswordHasher:
    """The app's Argon2id hasher (parameters from the config)."""
    config = current_app.config
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"],
        memory_cost=config["ARGON2_MEMORY_COST"],
        parallelism=config["ARGON2_PARALLELISM"],
    )


def hash_password(password: str) -> str:
    return hasher().hash(password)


# A fixed hash checked when the account does not exist, so both paths take the same time.
_DUMMY_HASH: dict[str, str] = {}


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; an unknown account costs the same time as a known one."""
    ph = hasher()
    if password_hash is None:
        key = f"{ph.time_cost}:{ph.memory_cost}:{ph.parallelism}"
        if key not in _DUMMY_HASH:
            _DUMMY_HASH[key] = ph.hash(secrets.token_hex(16))
        password_hash = _DUMMY_HASH[key]
        with contextlib.suppress(VerificationError):
            ph.verify(password_hash, password)
        return False
    try:
        return ph.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def common_passwords() -> frozenset[str]:
    """The 10,000 most common passwords (from Django's list, itself from Royce Williams)."""
    text = resources.files("marketplace.security").joinpath("common-passwords.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def password_problem(password: str) -> str | None:
    """Return why a new password is refused, or None. No composition rules (NIST 800-63B)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return str(
            _l("Use at least %(n)d characters (12 or more is better).", n=MIN_PASSWORD_LENGTH)
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        return str(_l("Use at most %(n)d characters.", n=MAX_PASSWORD_LENGTH))
    if password.lower() in common_passwords():
        return str(_l("This password is too common; choose another one."))
    return None


def new_token() -> tuple[str, str]:
    """A random 256-bit token and its SHA-256, the only form stored."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ---------------------------------------------------------------- sessions


@login_manager.user_loader
def load_user(user_id: str):
    """Accept a session only if its version still matches the user's (logout, disable)."""
    from marketplace.accounts.loader import load_cached_reader, load_reader

    try:
        raw_id, raw_version = user_id.split(":", 1)
        uid, version = int(raw_id), int(raw_version)
    except ValueError:
        return None
    # The user, roles, profile, membership and partner team: one query (accounts/loader.py),
    # or none for a page that only reads, from the cached row (invalidated on change).
    if request.method in ("GET", "HEAD") and current_app.config.get("READER_CACHE_ENABLED", True):
        user = load_cached_reader(uid)
    else:
        user = load_reader(uid)
    if user is None or user.session_version != version or not user.is_active:
        return None
    return user


@login_manager.request_loader
def load_user_from_token(req):
    """Bearer tokens authenticate API calls (never page requests)."""
    from marketplace.accounts.loader import load_cached_token_reader, load_token_reader

    header = req.headers.get("Authorization", "")
    if not req.path.startswith("/api/") or not header.startswith("Bearer "):
        return None
    digest = token_digest(header[len("Bearer ") :].strip())
    # A script calls with one token many times: its row and its user from the cache.
    if current_app.config.get("READER_CACHE_ENABLED", True):
        row = load_cached_token_reader(digest)
    else:
        row = load_token_reader(digest)
    if row is None:
        return None
    token, user = row
    now = utcnow()
    if token.revoked_at is not None or token.expires_at <= now or not user.is_active:
        return None
    g.api_token = token
    g.auth_by_token = True
    return user


def start_session(user: Any, *, remember: bool = False) -> None:
    """Log a user in with a fresh session (no data carried over from before)."""
    from flask_login import login_user

    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    login_user(user, remember=remember)
    now = utcnow().timestamp()
    session["login_at"] = now
    session["seen_at"] = now


def end_all_sessions(user: Any) -> int:
    """Invalidate every cookie (session and remember-me) and every API token of this user.

    A password change or reset, "sign out everywhere", a disabling and a two-factor reset all
    mean "whatever signed in before must not any more", scripts included. Returns how many
    tokens were revoked, so the person can be told.
    """
    from marketplace.accounts.models import ApiToken

    user.session_version += 1
    now = utcnow()
    revoked = db.session.execute(
        update(ApiToken)
        .where(
            ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session="fetch")
    )
    if revoked.rowcount:
        logger.info("%d api token(s) of user %s revoked", revoked.rowcount, user.id)
    return revoked.rowcount


# How stale the session's last-seen time may be (the idle limit is counted from it).
SEEN_AT_PRECISION_SECONDS = 60


def _check_session_age(app: Flask) -> None:
    if not current_user.is_authenticated or g.get("auth_by_token"):
        return
    now = utcnow().timestamp()
    login_at = session.get("login_at")
    seen_at = session.get("seen_at")
    idle: timedelta = app.config["SESSION_IDLE_TIMEOUT"]
    absolute: timedelta = app.config["SESSION_ABSOLUTE_TIMEOUT"]
    if login_at is None or seen_at is None:
        # Restored from a remember-me cookie: a fresh session starts now.
        session["login_at"] = session["seen_at"] = now
        return
    if now - seen_at > idle.total_seconds() or now - login_at > absolute.total_seconds():
        from flask_login import logout_user

        logout_user()
        session.clear()
        return
    if now - seen_at >= SEEN_AT_PRECISION_SECONDS:
        # A minute's precision on a two-hour idle limit: most pages leave the session as it
        # was and send no cookie (signing and sending it on every page cost more than that).
        session["seen_at"] = now


def _stripe_origins(app: Flask) -> str:
    """The origins of STRIPE_JS_URL and STRIPE_API_BASE, each after a space, for the CSP."""
    origins: list[str] = []
    for key in ("STRIPE_JS_URL", "STRIPE_API_BASE"):
        parts = urlsplit(app.config.get(key) or "")
        origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
        if origin and origin not in origins:
            origins.append(origin)
    return "".join(f" {origin}" for origin in origins)


def register_security(app: Flask) -> None:
    """Session timeouts, response headers."""
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @app.before_request
    def enforce_session_age() -> None:
        _check_session_age(app)

    @app.after_request
    def security_headers(response):
        # The card form loads Stripe.js and talks to Stripe (localstripe in dev/test). Scripts
        # are static files only ('self'): no per-response nonce, so a visitor's page is the
        # same bytes for every visitor and can be served whole from the cache (CHECKS.md).
        # JSON data blocks (<script type="application/json">) are not scripts and never run.
        stripe_origins = _stripe_origins(app)
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; "
            f"script-src 'self'{stripe_origins}; "
            "style-src 'self'; img-src 'self' data:; font-src 'self'; "
            f"connect-src 'self'{stripe_origins}; frame-src 'self'{stripe_origins}; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if app.config["ENV_NAME"] == "production":
            response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        # A 503 is the database locked or gone: loading the user again would wait and fail.
        if response.status_code != 503 and current_user.is_authenticated:
            response.headers["Cache-Control"] = "no-store"
        return response


# ---------------------------------------------------------------- permissions


def _require(check: Callable[[Any], bool]) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            if not current_user.is_authenticated:
                if request.path.startswith("/api/"):
                    abort(401)
                return login_manager.unauthorized()
            if not check(current_user):
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def login_required(view: F) -> F:
    """Any signed-in person."""
    return _require(lambda user: True)(view)


def roles_required(*roles: str) -> Callable[[F], F]:
    """Staff holding one of ``roles`` (admins pass every staff check), after two-factor."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            # Staff pages need a session that passed TOTP (tokens checked it when issued).
            if (
                current_user.is_authenticated
                and current_user.has_role(*roles, "admin")
                and not g.get("auth_by_token")
                and not session.get("mfa")
            ):
                if request.path.startswith("/api/"):
                    abort(401)
                return redirect(url_for("accounts.two_factor", next=request.full_path))
            return view(*args, **kwargs)

        return _require(lambda user: user.has_role(*roles, "admin"))(wrapper)  # type: ignore[return-value]

    return decorator


moderator_required = roles_required("moderator")
treasurer_required = roles_required("treasurer")
admin_required = roles_required("admin")


def verified_alumnus_required(view: F) -> F:
    """A signed-in alumnus whose status the association has verified."""
    return _require(lambda user: user.is_verified_alumnus)(view)


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path of this site, else None.

    Browsers drop tabs and newlines anywhere in a URL, strip leading spaces and controls, and
    read a backslash as a slash: ``/<TAB>/evil.example`` passes a plain "starts with one
    slash" test and still leads to ``//evil.example``. So any whitespace, control character
    or backslash refuses the target, before the slash rules are applied.
    """
    if not target or len(target) > 2048:
        return None
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in target):
        return None
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def redirect_back(default: str = "main.index") -> Any:
    """Redirect to the request's ``next`` when it is a path of this site, else to ``default``."""
    target = safe_next(request.args.get("next"))
    return redirect(target or url_for(default))


def expires_in(hours: int) -> datetime:
    return utcnow() + timedelta(hours=hours)

"""Shared pieces of the JSON API: authentication of callers and common schemas."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, g, request
from flask_login import current_user

F = TypeVar("F", bound=Callable[..., Any])

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def api_caller():
    """The authenticated caller: a bearer token, or a browser session on GET only.

    A browser session is not accepted on writes: the API is exempt from CSRF, so a
    cookie alone must never change state.
    """
    if not current_user.is_authenticated:
        return None
    if g.get("auth_by_token"):
        return current_user
    if request.method in SAFE_METHODS:
        return current_user
    return None


def auth_required(*, roles: tuple[str, ...] = (), verified: bool = False) -> Callable[[F], F]:
    """401 without a valid caller; 403 without one of ``roles`` or without verification."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            user = api_caller()
            if user is None:
                abort(401)
            if roles and not user.has_role(*roles, "admin"):
                abort(403)
            if roles and not g.get("auth_by_token"):
                from flask import session

                if not session.get("mfa"):
                    abort(401)
            if verified and not user.is_verified_alumnus:
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator

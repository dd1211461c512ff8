"""Helpers the partner pages share (views, team_views, moderation_views)."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_login import current_user

from marketplace.accounts.models import User


def me() -> User:
    """The signed-in person (the object, not the proxy)."""
    return current_user._get_current_object()  # type: ignore[attr-defined]


def render_page(template: str, *, status: int | None = None, **context: Any):
    """A page; a form sent back with errors answers 422."""
    if status is None:
        status = 422 if request.method == "POST" else 200
    return render_template(template, **context), status

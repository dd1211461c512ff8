"""Saved searches and their e-mail alerts: manage, one-click unsubscribe."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

"""A member's applications: apply, follow, withdraw (endpoints ``jobs.applications.*``)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("applications", __name__, url_prefix="/applications")

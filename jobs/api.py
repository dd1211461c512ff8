"""Public jobs API."""

from __future__ import annotations

from flask_smorest import Blueprint

bp = Blueprint("jobs_api", __name__, url_prefix="/jobs", description="Jobs")

"""Partner jobs API and job moderation API."""

from __future__ import annotations

from flask_smorest import Blueprint

bp = Blueprint("partner_jobs_api", __name__, url_prefix="", description="Partner jobs")

"""Applications API: apply, own applications, the partner's pipeline."""

from __future__ import annotations

from flask_smorest import Blueprint

bp = Blueprint("applications_api", __name__, url_prefix="", description="Applications")

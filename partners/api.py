"""Partner moderation API."""

from __future__ import annotations

from flask_smorest import Blueprint

bp = Blueprint("partners_api", __name__, url_prefix="/moderation/partners", description="Partners")

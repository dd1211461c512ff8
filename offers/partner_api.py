"""Partner offers API and offer moderation API."""

from __future__ import annotations

from flask_smorest import Blueprint

bp = Blueprint("partner_offers_api", __name__, url_prefix="", description="Partner offers")

"""Public offers API."""

from __future__ import annotations

from flask_smorest import Blueprint

bp = Blueprint("offers_api", __name__, url_prefix="/offers", description="Offers")

"""Redemption, wallet and voucher API."""

from __future__ import annotations

from flask_smorest import Blueprint

bp = Blueprint("redemptions_api", __name__, url_prefix="", description="Redemptions")

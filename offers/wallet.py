"""Redeeming offers, the member's wallet and the partner's pass check (``offers.wallet.*``)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("wallet", __name__, url_prefix="/wallet")

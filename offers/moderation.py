"""The staff's offer review queue (endpoints ``offers.moderation.*``)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("moderation", __name__, url_prefix="/moderation")

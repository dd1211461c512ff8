"""The staff's job review queue (endpoints ``jobs.moderation.*``)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("moderation", __name__, url_prefix="/moderation")

"""Partner pages: application, team, dashboard, and the staff's partner queue."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("partners", __name__, url_prefix="/partners")

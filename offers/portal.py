"""The partner portal's offer pages (nested under offers: endpoints ``offers.portal.*``)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("portal", __name__, url_prefix="/manage")

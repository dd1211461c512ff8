"""The partner portal's job pages (nested under jobs: endpoints ``jobs.portal.*``)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("portal", __name__, url_prefix="/manage")

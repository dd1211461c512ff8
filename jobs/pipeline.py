"""The partner's applicant pipeline (endpoints ``jobs.pipeline.*``)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pipeline", __name__, url_prefix="/manage/pipeline")

"""Public job pages: listing with search and filters, the job page."""

from __future__ import annotations

from flask import Blueprint

from jobs import applications, moderation, pipeline, portal

bp = Blueprint("jobs", __name__, url_prefix="/jobs")
bp.register_blueprint(portal.bp)
bp.register_blueprint(moderation.bp)
bp.register_blueprint(applications.bp)
bp.register_blueprint(pipeline.bp)

"""Staff moderation queues: alumni verification and roster import (partners, offers, jobs later)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Everything the moderation package adds to the application: its queues and their API."""
    from marketplace.api import register_api_blueprints
    from marketplace.moderation import api, views

    app.register_blueprint(views.bp)
    register_api_blueprints(api.bp)

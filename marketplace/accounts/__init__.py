"""People: users, alumni profiles, login, tokens and staff roles."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Everything the accounts package adds to the application: its pages and its API."""
    from marketplace.accounts import api, views
    from marketplace.api import register_api_blueprints

    app.register_blueprint(views.bp)
    register_api_blueprints(api.bp)

"""Administration: users and staff roles."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Everything the admin package adds to the application: its pages."""
    from marketplace.admin import views

    app.register_blueprint(views.bp)

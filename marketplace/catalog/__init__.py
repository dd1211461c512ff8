"""Reference data the whole network shares: schools and offer categories."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Everything the catalog package adds to the application: its API."""
    from marketplace.api import register_api_blueprints
    from marketplace.catalog import api

    register_api_blueprints(api.bp)

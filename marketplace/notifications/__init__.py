"""E-mail: every message goes through the outbox table, then to a folder or SMTP."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Everything the notifications package adds to the application."""
    from marketplace.notifications import alerts, queue, services, views
    from marketplace.tasks import add_due_task

    app.register_blueprint(views.bp)
    app.cli.add_command(queue.notifications_cli)
    app.extensions[queue.SENDER_KEY] = services.send_one
    # The sources of the saved-search alerts are registered by the domains (offers, jobs).
    add_due_task("saved-search-digests", alerts.send_due_digests)

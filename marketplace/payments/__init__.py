"""Payments through Stripe: ledger, webhooks, documents, refunds, disputes, reconciliation."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Everything the payments package adds to the application: its pages, its API, its
    command, the wording helpers of the templates and the periodic tasks.

    What a succeeded payment delivers is registered by the package that sells it
    (``register_fulfilment``: membership, partners, offers).
    """
    from marketplace.api import register_api_blueprints
    from marketplace.payments import (
        api,
        commands,
        document_api,
        document_views,
        tasks,
        views,
        wording,
    )
    from marketplace.tasks import add_due_task

    app.register_blueprint(views.bp)
    app.register_blueprint(document_views.bp)
    register_api_blueprints(api.bp, document_api.bp)
    app.cli.add_command(commands.payments_cli)
    wording.init_app(app)
    for name, run in tasks.DUE_TASKS:
        add_due_task(name, run)

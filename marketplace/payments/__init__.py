"""Payments through Stripe: ledger, webhooks, documents, refunds, disputes, reconciliation."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """What the payments package adds to the app besides its blueprints: the wording helpers
    of the templates and the periodic tasks."""
    from marketplace.payments import tasks, wording
    from marketplace.tasks import add_due_task

    wording.init_app(app)
    for name, run in tasks.DUE_TASKS:
        add_due_task(name, run)

"""The treasurer's pages and API: the payment ledger, refunds and period sums."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Everything the treasury package adds to the application."""
    from marketplace.api import register_api_blueprints
    from marketplace.payments import webhooks
    from marketplace.seed import add_demo_step
    from marketplace.tasks import add_due_task
    from marketplace.treasury import api, demo, payouts, views

    app.register_blueprint(views.bp)
    register_api_blueprints(api.bp)
    webhooks.register_event_handler("payout.paid", payouts.handle_payout_event)
    webhooks.register_event_handler("payout.failed", payouts.handle_payout_event)
    add_due_task("payouts", payouts.sync_recent_payouts)
    add_demo_step("association details", demo.seed_association, after="staff")
    # After the partners: their owners pay the plans and placements of the demo ledger.
    add_demo_step("treasury ledger", demo.seed_ledger, after="partners")

"""The treasurer's pages and API: the payment ledger, refunds and period sums."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Everything the treasury package adds to the application."""
    from marketplace.api import register_api_blueprints
    from marketplace.payments import webhooks
    from marketplace.seed import add_demo_step
    from marketplace.tasks import add_due_task
    from marketplace.treasury import (
        api,
        dashboard_views,
        demo,
        export_views,
        payouts,
        summary_api,
        views,
    )

    # The pages of the treasury blueprint live in three modules: the ledger (views), the
    # dashboard and exceptions queue (dashboard_views), the exports (export_views).
    dashboard_views.routes.add_to(views.bp)
    export_views.routes.add_to(views.bp)
    app.register_blueprint(views.bp)
    summary_api.routes.add_to(api.bp)
    register_api_blueprints(api.bp)
    webhooks.register_event_handler("payout.paid", payouts.handle_payout_event)
    webhooks.register_event_handler("payout.failed", payouts.handle_payout_event)
    add_due_task("payouts", payouts.sync_recent_payouts)
    add_demo_step("association details", demo.seed_association, after="staff")
    # After the partners' plans and offers: their owners pay for them in the demo ledger (and
    # before the redemptions: members-only offers need the memberships the ledger pays for).
    add_demo_step("treasury ledger", demo.seed_ledger, after="offers")

"""Membership (adhésion): tiers and, later, dated periods paid through Stripe."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Everything the membership package adds to the application."""
    from marketplace.api import register_api_blueprints
    from marketplace.membership import api, me_api, services, tasks, views
    from marketplace.payments.document_registry import register_designation, register_service_period
    from marketplace.payments.models import PaymentKind
    from marketplace.payments.services import register_fulfilment, register_reversal
    from marketplace.tasks import add_due_task

    app.register_blueprint(views.bp)
    register_api_blueprints(api.bp, me_api.bp)
    # A paid membership payment starts a period; a full refund or a lost dispute ends it.
    register_fulfilment(PaymentKind.MEMBERSHIP, services.fulfil_membership_payment)
    register_reversal(PaymentKind.MEMBERSHIP, services.reverse_membership_payment)
    # Its attestation names the tier and dates the period paid for.
    register_service_period(PaymentKind.MEMBERSHIP, services.membership_paid_for)
    register_designation(PaymentKind.MEMBERSHIP, services.membership_designation)
    add_due_task("membership-auto-renewal", tasks.auto_renew)
    add_due_task("membership-reminders", tasks.send_reminders)

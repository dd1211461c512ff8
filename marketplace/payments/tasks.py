"""Periodic payment work for ``flask tasks run-due``: re-sync stuck payments, dashboard refunds."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from marketplace.extensions import db
from marketplace.payments import services
from marketplace.payments.models import Payment, PaymentStatus
from marketplace.tasks import add_due_task

logger = logging.getLogger(__name__)

# Card refunds are possible for about 180 days; older payments are left to `payments reconcile`.
REFUND_WINDOW = timedelta(days=180)


def resync_pending_payments(now: datetime) -> str:
    """Sync every payment still pending (or awaiting 3-D Secure) an hour after it was created."""
    synced = unreachable = 0
    changed = 0
    for payment_id in services.stale_pending_payments(now):
        before = db.session.get(Payment, payment_id).status
        try:
            payment = services.sync_payment(payment_id)
        except services.PaymentServiceUnavailable:
            db.session.rollback()
            unreachable += 1
            continue
        except services.PaymentError as error:
            db.session.rollback()
            logger.warning("payment %s not synced: %s", payment_id, error.message)
            continue
        synced += 1
        changed += payment.status != before
    db.session.commit()
    report = f"{synced} pending payment(s) re-synced, {changed} changed"
    if unreachable:
        report += f", {unreachable} not reached (Stripe unreachable)"
    return report


def pick_up_dashboard_refunds(now: datetime) -> str:
    """Record refunds made in the Stripe dashboard, read from each recent charge's refunds."""
    ids = db.session.scalars(
        select(Payment.id).where(
            Payment.status.in_((PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED)),
            Payment.stripe_payment_intent_id.is_not(None),
            Payment.succeeded_at >= now - REFUND_WINDOW,
        )
    ).all()
    recorded = unreachable = 0
    for payment_id in ids:
        try:
            recorded += len(
                [c for c in services.sync_charge(payment_id) if c.startswith("refund ")]
            )
        except services.PaymentServiceUnavailable:
            db.session.rollback()
            unreachable += 1
        except services.PaymentError as error:
            db.session.rollback()
            logger.warning("payment %s: charge not read: %s", payment_id, error.message)
    db.session.commit()
    report = f"{len(ids)} charge(s) checked, {recorded} dashboard refund(s) recorded"
    if unreachable:
        report += f", {unreachable} not reached (Stripe unreachable)"
    return report


add_due_task("payments-pending", resync_pending_payments)
add_due_task("payments-refunds", pick_up_dashboard_refunds)

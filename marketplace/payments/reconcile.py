"""Reconciliation: compare the ledger with Stripe, fix what webhooks missed, say what differed.

A payment whose confirm never heard back has no PaymentIntent id in the ledger: Stripe may
still hold a succeeded intent carrying our metadata. Such payments are looked up by their
payer's Stripe customer (``PaymentIntent.list(customer=...)``, strongly consistent, unlike
search) and the intents naming them (payment, attempt and site in the metadata) are applied,
so nothing Stripe charged stays pending. Payments already paid are checked for their
settlement, refunds and disputes (``sync_charge``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select

from marketplace.extensions import db
from marketplace.payments import gateway
from marketplace.payments.models import OPEN_ATTEMPTS, Payment, PaymentAttempt
from marketplace.payments.services import (
    OPEN_STATUSES,
    PAID_STATUSES,
    PENDING_RESYNC_AFTER,
    PaymentError,
    PaymentServiceUnavailable,
    end_read_transaction,
    flag,
    lock_payment,
    payment_id_in,
)
from marketplace.payments.sync import apply_intent, fetch, sync_charge, sync_payment

logger = logging.getLogger(__name__)

# An attempt without answer is looked for at Stripe after this long (the payer may retry first).
LOST_ANSWER_AFTER = timedelta(minutes=5)


def find_lost_intents(payment_id: int) -> list[str]:
    """Apply the PaymentIntents Stripe holds for a payment whose attempt got no answer; commits.

    Returns what changed, as lines.
    """
    payment = db.session.get(Payment, payment_id)
    if payment is None or not payment.stripe_customer_id:
        return []
    customer, before = payment.stripe_customer_id, payment.status
    end_read_transaction()
    try:
        intents = gateway.get_gateway().list_customer_payment_intents(customer)
    except gateway.GatewayUnavailable as error:
        raise PaymentServiceUnavailable(error.user_message) from error
    except gateway.GatewayError as error:
        raise PaymentError(error.user_message) from error
    ours = [intent for intent in intents if payment_id_in(intent.metadata) == payment_id]
    lines = []
    # Oldest first: a later attempt (another card) wins over an earlier one.
    for intent in sorted(ours, key=lambda item: (item.created, item.id)):
        known = db.session.scalar(
            select(PaymentAttempt.id).where(PaymentAttempt.stripe_payment_intent_id == intent.id)
        )
        if known is not None and db.session.get(Payment, payment_id).stripe_payment_intent_id:
            continue
        charge = None
        if intent.status == "succeeded":
            _intent, charge = fetch(intent.id)
        payment = apply_intent(payment_id, intent, charge)
        db.session.commit()
        lines.append(f"payment {payment_id}: PaymentIntent {intent.id} found by its metadata")
    payment = db.session.get(Payment, payment_id)
    if payment.status != before:
        lines.append(f"payment {payment_id}: {before} -> {payment.status}")
    return lines


def lost_answer_condition(now: datetime):
    """Open payments with an attempt that never got its PaymentIntent id."""
    return (
        Payment.status.in_(OPEN_STATUSES)
        & Payment.stripe_payment_intent_id.is_(None)
        & exists().where(
            PaymentAttempt.payment_id == Payment.id,
            PaymentAttempt.stripe_payment_intent_id.is_(None),
            PaymentAttempt.status.in_(OPEN_ATTEMPTS),
            PaymentAttempt.updated_at < now - LOST_ANSWER_AFTER,
        )
    )


def reconcile_payment(payment_id: int) -> list[str]:
    """One payment: its intent (or the lost ones), then its charge; what changed, as lines."""
    payment = db.session.get(Payment, payment_id)
    status, flag_before, refunded = payment.status, payment.flag, payment.refunded_amount
    lines: list[str] = []
    if payment.stripe_payment_intent_id is None and payment.status in OPEN_STATUSES:
        lines.extend(find_lost_intents(payment_id))
    else:
        payment = sync_payment(payment_id)
        if payment.status != status:
            lines.append(f"payment {payment_id}: {status} -> {payment.status}")
    payment = db.session.get(Payment, payment_id)
    if payment.status in PAID_STATUSES:
        lines.extend(f"payment {payment_id}: {change}" for change in sync_charge(payment_id))
        payment = db.session.get(Payment, payment_id)
    if payment.refunded_amount != refunded:
        lines.append(f"payment {payment_id}: refunded {refunded} -> {payment.refunded_amount}")
    if payment.flag and payment.flag != flag_before:
        lines.append(f"payment {payment_id}: flagged {payment.flag} ({payment.flag_detail})")
    return lines


def reconcile(*, since: datetime | None, now: datetime | None = None) -> list[str]:
    """Compare open payments, payments whose answer was lost, and (with ``since``) every
    payment created since then with Stripe; fix them; list what differed."""
    from marketplace.database import utcnow

    now = now or utcnow()
    conditions = [
        Payment.status.in_(OPEN_STATUSES) & Payment.stripe_payment_intent_id.is_not(None),
        lost_answer_condition(now),
        # Paid before the ledger kept settlements (or before Stripe settled them).
        Payment.status.in_(PAID_STATUSES) & Payment.settled_amount.is_(None),
    ]
    if since is not None:
        conditions.append(Payment.created_at >= since)
    ids = list(db.session.scalars(select(Payment.id).where(or_(*conditions)).order_by(Payment.id)))
    lines: list[str] = []
    for payment_id in ids:
        try:
            lines.extend(reconcile_payment(payment_id))
        except PaymentServiceUnavailable:
            db.session.rollback()
            lines.append(f"payment {payment_id}: Stripe unreachable, not checked")
        except PaymentError as error:
            db.session.rollback()
            payment = lock_payment(payment_id)
            flag(payment, "missing_at_stripe", f"Stripe: {error.message}")
            db.session.commit()
            lines.append(f"payment {payment_id}: unknown to Stripe ({error.message})")
    return lines


def stale_payments(now: datetime) -> list[int]:
    """Payments pending for more than an hour, or whose confirm got no answer (cron)."""
    return list(
        db.session.scalars(
            select(Payment.id).where(
                or_(
                    Payment.status.in_(OPEN_STATUSES)
                    & Payment.stripe_payment_intent_id.is_not(None)
                    & (Payment.created_at < now - PENDING_RESYNC_AFTER),
                    lost_answer_condition(now),
                )
            )
        )
    )


def resync_stale_payments(now: datetime) -> str:
    """Sync every payment still pending an hour later, and find lost answers (cron); commits."""
    synced = changed = unreachable = 0
    for payment_id in stale_payments(now):
        before = db.session.get(Payment, payment_id).status
        try:
            reconcile_payment(payment_id)
        except PaymentServiceUnavailable:
            db.session.rollback()
            unreachable += 1
            continue
        except PaymentError as error:
            db.session.rollback()
            logger.warning("payment %s not synced: %s", payment_id, error.message)
            continue
        synced += 1
        changed += db.session.get(Payment, payment_id).status != before
    db.session.commit()
    report = f"{synced} pending payment(s) re-synced, {changed} changed"
    if unreachable:
        report += f", {unreachable} not reached (Stripe unreachable)"
    return report

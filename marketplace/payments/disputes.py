"""Disputes (chargebacks) to the end: opened, funds withdrawn with Stripe's dispute fee,
reinstated when won, closed.

Each ``charge.dispute.*`` event is a hint: the dispute is read again from Stripe with its
balance transactions (https://docs.stripe.com/api/disputes/object: "zero, one, or two balance
transactions that show funds withdrawn and reinstated"), whose amounts and fees, in the
account's currency, are what the dashboard and the FEC book. A lost dispute ends the benefit
the payment paid for (membership, placement) and tells the treasurer in the exceptions queue.
A payment that was disputed stays ``disputed`` (it never moves backwards), whatever the outcome.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.payments import gateway
from marketplace.payments.models import CLOSED_DISPUTE_STATUSES, Dispute, Payment, PaymentStatus
from marketplace.payments.services import (
    PAID_STATUSES,
    flag,
    lock_payment,
    reverse_benefit,
    transition,
)

logger = logging.getLogger(__name__)

DISPUTE_FLAG = "dispute"
LOST_FLAG = "dispute_lost"


def mark_disputed(payment: Payment, detail: str) -> None:
    """The payment is disputed (flagged for the treasurer); flush only."""
    if payment.disputed_at is None:
        payment.disputed_at = utcnow()
    if payment.status in PAID_STATUSES:
        transition(payment, PaymentStatus.DISPUTED)
    if payment.flag != LOST_FLAG:
        flag(payment, DISPUTE_FLAG, detail)


def payment_for_dispute(info: gateway.DisputeInfo) -> Payment | None:
    """The payment of a disputed charge (by its intent, else by its charge)."""
    from marketplace.payments.models import PaymentAttempt

    if info.payment_intent:
        payment = db.session.scalar(
            select(Payment).where(Payment.stripe_payment_intent_id == info.payment_intent)
        )
        if payment is None:
            attempt = db.session.scalar(
                select(PaymentAttempt).where(
                    PaymentAttempt.stripe_payment_intent_id == info.payment_intent
                )
            )
            payment = db.session.get(Payment, attempt.payment_id) if attempt else None
        if payment is not None:
            return payment
    if info.charge:
        return db.session.scalar(select(Payment).where(Payment.stripe_charge_id == info.charge))
    return None


def _money(dispute: Dispute, info: gateway.DisputeInfo) -> None:
    """Funds withdrawn (negative transactions) and reinstated (positive ones), with fees."""
    withdrawn = [t for t in info.transactions if t.amount < 0]
    reinstated = [t for t in info.transactions if t.amount > 0]
    dispute.withdrawn_amount = -sum(t.amount for t in withdrawn)
    dispute.withdrawn_fee = sum(t.fee for t in withdrawn)
    dispute.reinstated_amount = sum(t.amount for t in reinstated)
    dispute.reinstated_fee = sum(t.fee for t in reinstated)
    if info.transactions:
        dispute.settled_currency = info.transactions[0].currency
    now = utcnow()
    if withdrawn and dispute.withdrawn_at is None:
        dispute.withdrawn_at = now
    if reinstated and dispute.reinstated_at is None:
        dispute.reinstated_at = now


def apply_dispute(info: gateway.DisputeInfo) -> Payment | None:
    """Bring the ledger in line with a dispute as Stripe has it now; flush only."""
    found = payment_for_dispute(info)
    if found is None:
        logger.info("dispute %s: no payment of ours", info.id)
        return None
    payment = lock_payment(found.id)
    dispute = db.session.scalar(select(Dispute).where(Dispute.stripe_dispute_id == info.id))
    if dispute is None:
        dispute = Dispute(
            payment_id=payment.id,
            stripe_dispute_id=info.id,
            amount=info.amount,
            currency=info.currency or payment.currency,
            status=info.status,
        )
        db.session.add(dispute)
    dispute.reason = (info.reason or "")[:60] or None
    dispute.status = info.status[:30]
    _money(dispute, info)
    if info.status in CLOSED_DISPUTE_STATUSES and dispute.closed_at is None:
        dispute.closed_at = utcnow()
    db.session.flush()
    if payment.status not in PAID_STATUSES:
        flag(payment, DISPUTE_FLAG, f"{info.id} {info.status}: payment not paid in the ledger")
        db.session.flush()
        return payment
    detail = f"{info.id} {info.status} ({info.reason or 'no reason'})"
    mark_disputed(payment, detail)
    if info.status == "lost":
        reverse_benefit(payment, why=f"dispute {info.id} lost")
        flag(payment, LOST_FLAG, detail)
    elif info.status in CLOSED_DISPUTE_STATUSES and payment.flag == DISPUTE_FLAG:
        # Won (or closed without loss): nothing is left to do for the treasurer.
        payment.flag = None
        payment.flag_detail = None
    db.session.flush()
    logger.info("payment %s: dispute %s is %s", payment.id, info.id, info.status)
    return payment


def open_dispute_count() -> int:
    """Disputes not closed at Stripe."""
    from sqlalchemy import func

    return int(
        db.session.scalar(
            select(func.count(Dispute.id)).where(
                Dispute.status.not_in(sorted(CLOSED_DISPUTE_STATUSES))
            )
        )
        or 0
    )

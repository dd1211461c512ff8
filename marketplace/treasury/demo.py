"""Demo data of the treasury: the association's (fictional) identity and a year of ledger."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.models import Membership
from marketplace.payments import documents
from marketplace.payments.models import (
    AssociationDetails,
    Dispute,
    Payment,
    PaymentKind,
    PaymentStatus,
    Refund,
)

DEMO_ASSOCIATION = {
    "name": "Association des anciens élèves des lycées français du monde (démo)",
    "address": "12 rue des Exemples",
    "postal_code": "75000",
    "city": "Paris",
    "country": "FR",
    # Fictional numbers that pass the checks (SIRET Luhn key, RNA shape).
    "siret": "12345678200010",
    "rna": "W751234567",
    "email": "tresorerie@example.org",
    "vat_regime": "franchise",
}


def seed_association() -> int:
    """The association's details, if no row exists yet."""
    if db.session.scalar(select(func.count(AssociationDetails.id))):
        return 0
    db.session.add(AssociationDetails(**DEMO_ASSOCIATION))
    return 1


# A year of fictional ledger lines, so the demo treasurer's dashboard, exports and exceptions
# have something to show. They never reached Stripe: they carry no Stripe ids (a check against
# Stripe has nothing to flag) and what Stripe would have settled (amount, fee, net in euros).
# Each membership payment gives its payer the year it paid for (alice's year is granted by
# staff in the partners' demo; bruno stays a non-member: his only membership payment was
# refunded in full); one placement was disputed, and won.
DEMO_LEDGER_MONTHS = 12
# (payer, kind, amount, months ago, day of month, status, refunded amount)
DEMO_LEDGER: list[tuple[str, PaymentKind, int, int, int, PaymentStatus, int]] = (
    [
        ("chloe@example.org", PaymentKind.MEMBERSHIP, 1500, 5, 11, PaymentStatus.SUCCEEDED, 0),
        ("david@example.org", PaymentKind.MEMBERSHIP, 10000, 2, 24, PaymentStatus.SUCCEEDED, 0),
        ("bruno@example.org", PaymentKind.MEMBERSHIP, 4000, 3, 16, PaymentStatus.REFUNDED, 4000),
        ("bruno@example.org", PaymentKind.MEMBERSHIP, 4000, 0, 2, PaymentStatus.FAILED, 0),
    ]
    + [
        (payer, kind, amount, months_ago, day, PaymentStatus.SUCCEEDED, 0)
        for months_ago in range(DEMO_LEDGER_MONTHS)
        for payer, kind, amount, day in (
            ("partner-owner@example.org", PaymentKind.FEATURED, 4900, 7),
            ("horizon-owner@example.org", PaymentKind.FEATURED, 14900, 19),
        )
    ]
    + [
        (
            "partner-owner@example.org",
            PaymentKind.PARTNER_PLAN,
            120000,
            10,
            5,
            PaymentStatus.SUCCEEDED,
            0,
        ),
        (
            "horizon-owner@example.org",
            PaymentKind.PARTNER_PLAN,
            120000,
            4,
            9,
            PaymentStatus.SUCCEEDED,
            0,
        ),
        (
            "partner-owner@example.org",
            PaymentKind.FEATURED,
            4900,
            1,
            21,
            PaymentStatus.PARTIALLY_REFUNDED,
            2000,
        ),
    ]
)
# The featured placement (by index in the ledger) disputed by its payer's bank, then won.
DEMO_DISPUTED = len(DEMO_LEDGER) - 3


# What a demo partner payment bought and for which partner: the domains say (the core knows no
# partner, plan or offer). Each describer receives what the previous ones found and adds to it:
# partners the partner and its plan, offers the offer a placement features.
DemoPartnerPayment = Callable[
    [User, PaymentKind, int, int | None, dict[str, Any]], tuple[int | None, dict[str, Any]]
]
_PARTNER_PAYMENT: list[DemoPartnerPayment] = []


def register_demo_partner_payment(describe: DemoPartnerPayment) -> None:
    """Let a domain give a demo partner payment its partner and its subject (plan, offer,
    days), so the invoice names the company's billing identity and what was bought."""
    if describe not in _PARTNER_PAYMENT:
        _PARTNER_PAYMENT.append(describe)


def _bought(payer: User, kind: PaymentKind, amount: int) -> tuple[int | None, dict[str, Any]]:
    partner_id: int | None = None
    subject: dict[str, Any] = {}
    if kind == PaymentKind.MEMBERSHIP:
        return partner_id, subject
    for describe in _PARTNER_PAYMENT:
        partner_id, subject = describe(payer, kind, amount, partner_id, subject)
    return partner_id, subject


def _stripe_fee(amount: int) -> int:
    """Stripe's European card pricing: 1.5 % + 0.25 €."""
    return round(amount * 0.015) + 25


def _membership_for(payment: Payment, payer: User) -> None:
    """The year a demo membership payment paid for (a refunded one gave nothing)."""
    if payment.kind != PaymentKind.MEMBERSHIP or payment.status != PaymentStatus.SUCCEEDED:
        return
    start = payment.succeeded_at.date()
    db.session.add(
        Membership(
            user_id=payer.id,
            starts_on=start,
            ends_on=start + relativedelta(months=12),
            source="payment",
            payment_id=payment.id,
        )
    )


def seed_ledger() -> int:
    """Succeeded, refunded, disputed and failed payments over the last year, numbered like
    real ones, each membership payment with its membership year."""
    if db.session.scalar(select(func.count(Payment.id)).where(Payment.description.like("Demo %"))):
        return 0
    payers = {
        user.email: user
        for user in db.session.scalars(
            select(User).where(User.email.in_({row[0] for row in DEMO_LEDGER}))
        )
    }
    if not payers:
        return 0
    today = utcnow().replace(hour=10, minute=0, second=0, microsecond=0)
    rows = []
    for index, (email, kind, amount, months_ago, day, status, refunded) in enumerate(DEMO_LEDGER):
        if email not in payers:
            continue
        moment = (today - relativedelta(months=months_ago)).replace(day=day)
        if moment > today:
            moment -= relativedelta(months=1)
        rows.append((moment, index, email, kind, amount, status, refunded))
    for moment, index, email, kind, amount, status, refunded in sorted(rows):
        payer = payers[email]
        paid = status != PaymentStatus.FAILED
        fee = _stripe_fee(amount) if paid else None
        partner_id, subject = _bought(payer, kind, amount)
        payment = Payment(
            kind=kind,
            status=PaymentStatus.DISPUTED if index == DEMO_DISPUTED else status,
            amount=amount,
            currency="eur",
            payer_id=payer.id,
            payer_name=payer.full_name or payer.email,
            payer_email=payer.email,
            partner_id=partner_id,
            subject={"demo": True, **subject},
            description=f"Demo {kind.value} {index + 1}",
            stripe_fee=fee,
            settled_amount=amount if paid else None,
            settled_net=amount - fee if paid else None,
            settled_currency="eur" if paid else None,
            refunded_amount=refunded,
            failure_code="card_declined" if not paid else None,
            failure_message="Your card was declined." if not paid else None,
            created_at=moment,
            succeeded_at=moment if paid else None,
            fulfilled_at=moment if paid else None,
            disputed_at=moment + timedelta(days=10) if index == DEMO_DISPUTED else None,
        )
        db.session.add(payment)
        db.session.flush()
        _membership_for(payment, payer)
        if paid:
            documents.issue_payment_document(payment, at=moment)
        if refunded:
            refund = Refund(
                payment_id=payment.id,
                amount=refunded,
                reason="Demo refund",
                status="succeeded",
                settled_amount=refunded,
                settled_currency="eur",
                created_at=moment + timedelta(days=3),
                succeeded_at=moment + timedelta(days=3),
            )
            db.session.add(refund)
            db.session.flush()
            documents.issue_refund_document(refund, at=refund.created_at)
        if index == DEMO_DISPUTED:
            db.session.add(
                Dispute(
                    payment_id=payment.id,
                    stripe_dispute_id=f"dp_demo_{index + 1:04d}",
                    amount=amount,
                    currency="eur",
                    reason="product_not_received",
                    status="won",
                    settled_currency="eur",
                    withdrawn_amount=amount,
                    withdrawn_fee=1500,
                    reinstated_amount=amount,
                    withdrawn_at=moment + timedelta(days=10),
                    reinstated_at=moment + timedelta(days=40),
                    closed_at=moment + timedelta(days=40),
                )
            )
    db.session.flush()
    return len(rows)

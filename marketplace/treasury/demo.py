"""Demo data of the treasury: the association's (fictional) identity and a year of ledger."""

from __future__ import annotations

from datetime import timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.payments import documents
from marketplace.payments.models import (
    AssociationDetails,
    Payment,
    PaymentKind,
    PaymentStatus,
    Refund,
)
from marketplace.seed import add_demo_step

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


add_demo_step("association details", seed_association, after="staff")


# A year of fictional ledger lines, so the demo treasurer's dashboard, exports and exceptions
# have something to show. They never reached Stripe (ids ``pi_demo_…``): "check against
# Stripe" on the exceptions page lists them as unknown to Stripe, which is true.
DEMO_MEMBERS = ("alice@example.org", "bruno@example.org", "chloe@example.org", "david@example.org")
DEMO_LEDGER_MONTHS = 12
# (kind, amount, months ago, day of month, status, refunded amount)
DEMO_LEDGER: list[tuple[PaymentKind, int, int, int, PaymentStatus, int]] = [
    (PaymentKind.MEMBERSHIP, amount, months_ago, day, PaymentStatus.SUCCEEDED, 0)
    for months_ago in range(DEMO_LEDGER_MONTHS)
    for amount, day in ((4000, 3), (1500, 11), (4000, 19), (10000, 24))
] + [
    (PaymentKind.PARTNER_PLAN, 120000, 10, 5, PaymentStatus.SUCCEEDED, 0),
    (PaymentKind.PARTNER_PLAN, 120000, 4, 9, PaymentStatus.SUCCEEDED, 0),
    (PaymentKind.FEATURED, 14900, 6, 14, PaymentStatus.SUCCEEDED, 0),
    (PaymentKind.FEATURED, 4900, 2, 7, PaymentStatus.SUCCEEDED, 0),
    (PaymentKind.FEATURED, 4900, 1, 21, PaymentStatus.PARTIALLY_REFUNDED, 2000),
    (PaymentKind.MEMBERSHIP, 4000, 3, 16, PaymentStatus.REFUNDED, 4000),
    (PaymentKind.MEMBERSHIP, 4000, 0, 2, PaymentStatus.FAILED, 0),
]


def _stripe_fee(amount: int) -> int:
    """Stripe's European card pricing: 1.5 % + 0.25 €."""
    return round(amount * 0.015) + 25


def seed_ledger() -> int:
    """Succeeded, refunded and failed payments over the last year, numbered like real ones."""
    if db.session.scalar(select(func.count(Payment.id)).where(Payment.description.like("Demo %"))):
        return 0
    payers = list(db.session.scalars(select(User).where(User.email.in_(DEMO_MEMBERS))))
    if not payers:
        return 0
    today = utcnow().replace(hour=10, minute=0, second=0, microsecond=0)
    rows = []
    for index, (kind, amount, months_ago, day, status, refunded) in enumerate(DEMO_LEDGER):
        moment = (today - relativedelta(months=months_ago)).replace(day=day)
        if moment > today:
            moment -= relativedelta(months=1)
        rows.append((moment, index, kind, amount, status, refunded))
    for moment, index, kind, amount, status, refunded in sorted(rows):
        payer = payers[index % len(payers)]
        payment = Payment(
            kind=kind,
            status=status,
            amount=amount,
            currency="eur",
            payer_id=payer.id,
            payer_name=payer.full_name or payer.email,
            payer_email=payer.email,
            subject={"demo": True},
            description=f"Demo {kind.value} {index + 1}",
            stripe_payment_intent_id=f"pi_demo_{index + 1:04d}",
            stripe_charge_id=f"ch_demo_{index + 1:04d}" if status != PaymentStatus.FAILED else None,
            stripe_fee=_stripe_fee(amount) if status != PaymentStatus.FAILED else None,
            refunded_amount=refunded,
            failure_message="Your card was declined." if status == PaymentStatus.FAILED else None,
            created_at=moment,
            succeeded_at=moment if status != PaymentStatus.FAILED else None,
            fulfilled_at=moment if status != PaymentStatus.FAILED else None,
        )
        db.session.add(payment)
        db.session.flush()
        if status != PaymentStatus.FAILED:
            documents.issue_payment_document(payment, at=moment)
        if refunded:
            refund = Refund(
                payment_id=payment.id,
                amount=refunded,
                reason="Demo refund",
                status="succeeded",
                stripe_refund_id=f"re_demo_{index + 1:04d}",
                created_at=moment + timedelta(days=3),
            )
            db.session.add(refund)
            db.session.flush()
            documents.issue_refund_document(refund, at=refund.created_at)
    db.session.flush()
    return len(rows)


add_demo_step("treasury ledger", seed_ledger)

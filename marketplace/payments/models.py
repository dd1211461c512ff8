"""The payment ledger: payments and their attempts, refunds, disputes, Stripe events, saved
cards, the association's identity.

Issued documents (invoices, credit notes, attestations) and their counters are in
``document_models.py``.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.database import UTCDateTime, utcnow
from marketplace.extensions import db


class PaymentKind(enum.StrEnum):
    """What a payment pays for."""

    MEMBERSHIP = "membership"
    PARTNER_PLAN = "partner_plan"
    FEATURED = "featured"


class PaymentStatus(enum.StrEnum):
    """A payment moves only forward (see ``STATUS_RANK``)."""

    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"


# pending → requires_action → succeeded | failed | canceled, then refunds and disputes.
STATUS_RANK = {
    PaymentStatus.PENDING: 0,
    PaymentStatus.REQUIRES_ACTION: 1,
    PaymentStatus.FAILED: 2,
    PaymentStatus.CANCELED: 2,
    PaymentStatus.SUCCEEDED: 3,
    PaymentStatus.PARTIALLY_REFUNDED: 4,
    PaymentStatus.REFUNDED: 5,
    PaymentStatus.DISPUTED: 5,
}


def _enum(kind: type[enum.Enum]) -> Enum:
    return Enum(kind, native_enum=False, length=20, validate_strings=True)


class Payment(db.Model):
    """One payment, created before Stripe is called; amounts in minor units."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= amount", name="refund_bounds"),
        # Scale (issue 8): the treasury's sums, failed payments of a period, disputes.
        Index(
            "ix_payments_succeeded_at_sums",
            "succeeded_at",
            "status",
            postgresql_include=["kind", "currency", "amount", "stripe_fee"],
        ),
        Index("ix_payments_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[PaymentKind] = mapped_column(_enum(PaymentKind), index=True)
    status: Mapped[PaymentStatus] = mapped_column(
        _enum(PaymentStatus), default=PaymentStatus.PENDING, index=True
    )
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    # The payer; kept as NULL once the person is anonymised (the ledger stays, French law).
    payer_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    payer_name: Mapped[str] = mapped_column(String(200))
    payer_email: Mapped[str | None] = mapped_column(String(254))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), index=True)
    # What is bought: {"tier": code, "months": 12} / {"plan": code} / {"offer_id": 1, "days": 30}.
    subject: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    description: Mapped[str] = mapped_column(String(255))
    off_session: Mapped[bool] = mapped_column(default=False)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(64))
    stripe_setup_intent_id: Mapped[str | None] = mapped_column(String(64))
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    stripe_charge_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # What Stripe settled for the charge in the account's currency (its balance transaction):
    # the amount, Stripe's fee and the net, in ``settled_currency`` (EUR), whatever the
    # payment's own currency. None until the charge is settled.
    stripe_fee: Mapped[int | None]
    settled_amount: Mapped[int | None]
    settled_net: Mapped[int | None]
    settled_currency: Mapped[str | None] = mapped_column(String(3))
    refunded_amount: Mapped[int] = mapped_column(default=0)
    failure_message: Mapped[str | None] = mapped_column(String(255))
    # Stripe's decline or error code of the last failure (shown translated, never raw).
    failure_code: Mapped[str | None] = mapped_column(String(60))
    # Set when what Stripe reports does not match this row: the treasurer must look.
    flag: Mapped[str | None] = mapped_column(String(40), index=True)
    flag_detail: Mapped[str | None] = mapped_column(Text)
    disputed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The number of the payment's own document (its invoice or attestation), e.g.
    # ``F-2026-000123``; the documents themselves are ``Document`` rows.
    document_number: Mapped[str | None] = mapped_column(String(24), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    refunds: Mapped[list[Refund]] = relationship(
        back_populates="payment", order_by="Refund.id", lazy="selectin"
    )
    disputes: Mapped[list[Dispute]] = relationship(
        back_populates="payment", order_by="Dispute.id", lazy="selectin"
    )
    # Every PaymentIntent made for it, the current one last (loaded when read).
    attempts: Mapped[list[PaymentAttempt]] = relationship(
        order_by="PaymentAttempt.id", viewonly=True
    )

    def __repr__(self) -> str:
        return f"<Payment {self.id} {self.kind} {self.amount} {self.currency} {self.status}>"


class AttemptStatus(enum.StrEnum):
    """Where one PaymentIntent of a payment stands."""

    CREATING = "creating"  # our create call is in flight
    UNANSWERED = "unanswered"  # the call got no answer: Stripe may or may not have the intent
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # declined: the payer may try another card (a new attempt)
    CANCELED = "canceled"  # superseded by a newer attempt, canceled at Stripe
    REFUSED = "refused"  # Stripe refused the request itself (no intent)
    MISMATCHED = "mismatched"  # its amount or currency is not the payment's: detached


# An attempt still able to take money.
OPEN_ATTEMPTS = (
    AttemptStatus.CREATING,
    AttemptStatus.UNANSWERED,
    AttemptStatus.REQUIRES_ACTION,
    AttemptStatus.PROCESSING,
)


class PaymentAttempt(db.Model):
    """One PaymentIntent created for a payment: a payment has at most one open attempt.

    The row exists (with its random idempotency key) before Stripe is called, so a lost
    answer is retried with the same key and a second confirm waits for the first.
    """

    __tablename__ = "payment_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    payment_method: Mapped[str] = mapped_column(String(64))
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[AttemptStatus] = mapped_column(
        _enum(AttemptStatus), default=AttemptStatus.CREATING
    )
    failure_code: Mapped[str | None] = mapped_column(String(60))
    failure_message: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<PaymentAttempt {self.id} payment={self.payment_id} {self.status}>"


class Refund(db.Model):
    """A full or partial refund of a payment, by a treasurer or from the Stripe dashboard."""

    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    amount: Mapped[int]
    reason: Mapped[str] = mapped_column(String(255))
    # pending (asked, or Stripe's answer lost) → succeeded | failed; "merged" for a duplicate.
    status: Mapped[str] = mapped_column(String(20), default="pending")
    stripe_refund_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Random, kept with the row: a retry after a lost answer sends the same key.
    idempotency_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    # What left the Stripe balance, in the account's currency (the refund's balance transaction).
    settled_amount: Mapped[int | None]
    settled_currency: Mapped[str | None] = mapped_column(String(3))
    failure_code: Mapped[str | None] = mapped_column(String(60))
    failure_message: Mapped[str | None] = mapped_column(String(255))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    payment: Mapped[Payment] = relationship(back_populates="refunds")

    def __repr__(self) -> str:
        return f"<Refund {self.id} payment={self.payment_id} {self.amount} {self.status}>"


class Dispute(db.Model):
    """A chargeback: the funds (and Stripe's dispute fee) withdrawn, maybe reinstated.

    Amounts withdrawn and reinstated are those of the dispute's balance transactions, in the
    account's currency (``settled_currency``); ``amount`` is the disputed amount in the
    payment's currency.
    """

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    stripe_dispute_id: Mapped[str] = mapped_column(String(64), unique=True)
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(String(60))
    # Stripe's: warning_needs_response, needs_response, under_review, won, lost, ...
    status: Mapped[str] = mapped_column(String(30))
    settled_currency: Mapped[str | None] = mapped_column(String(3))
    withdrawn_amount: Mapped[int] = mapped_column(default=0)
    withdrawn_fee: Mapped[int] = mapped_column(default=0)
    reinstated_amount: Mapped[int] = mapped_column(default=0)
    reinstated_fee: Mapped[int] = mapped_column(default=0)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    reinstated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    payment: Mapped[Payment] = relationship(back_populates="disputes")

    @property
    def closed(self) -> bool:
        return self.status in CLOSED_DISPUTE_STATUSES

    def __repr__(self) -> str:
        return f"<Dispute {self.stripe_dispute_id} payment={self.payment_id} {self.status}>"


CLOSED_DISPUTE_STATUSES = frozenset({"won", "lost", "warning_closed", "prevented"})


class StripeSweep(db.Model):
    """Where a periodic read of a Stripe list stopped (the daily refund sweep)."""

    __tablename__ = "stripe_sweeps"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    covered_until: Mapped[datetime] = mapped_column(UTCDateTime())
    last_run_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<StripeSweep {self.name} {self.covered_until}>"


class StripeEvent(db.Model):
    """A webhook event, stored once (the unique id makes a duplicate delivery a no-op)."""

    __tablename__ = "stripe_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(80), unique=True)
    type: Mapped[str] = mapped_column(String(80))
    object_id: Mapped[str | None] = mapped_column(String(80))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<StripeEvent {self.event_id} {self.type}>"


class PaymentProfile(db.Model):
    """A person's Stripe customer, saved card and auto-renewal choice."""

    __tablename__ = "payment_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(64))
    payment_method_id: Mapped[str | None] = mapped_column(String(64))
    card_brand: Mapped[str | None] = mapped_column(String(20))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    auto_renew: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<PaymentProfile user={self.user_id}>"


class AssociationDetails(db.Model):
    """The association's identity printed on documents (one row, edited by admins)."""

    __tablename__ = "association_details"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text)  # street lines
    postal_code: Mapped[str | None] = mapped_column(String(20))
    city: Mapped[str | None] = mapped_column(String(120))
    country: Mapped[str] = mapped_column(String(2), default="FR", server_default="FR")
    siret: Mapped[str | None] = mapped_column(String(20))
    rna: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    # VAT: "franchise" (art. 293 B du CGI, no VAT charged) or "vat" with a rate per kind of
    # sale, in basis points (2000 = 20 %); the intra-EU VAT number when the association has one.
    vat_regime: Mapped[str] = mapped_column(
        String(20), default="franchise", server_default="franchise"
    )
    vat_number: Mapped[str | None] = mapped_column(String(20))
    vat_rate_partner_plan: Mapped[int | None]
    vat_rate_featured: Mapped[int | None]

    def __repr__(self) -> str:
        return f"<AssociationDetails {self.name!r}>"

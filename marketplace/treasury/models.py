"""Treasury records: Stripe payouts with their balance transactions, and the chart of accounts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.database import UTCDateTime, utcnow
from marketplace.extensions import db


class Payout(db.Model):
    """A Stripe payout to the association's bank account (from ``payout.paid`` or a fetch)."""

    __tablename__ = "payouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_payout_id: Mapped[str] = mapped_column(String(64), unique=True)
    amount: Mapped[int]  # minor units, what reaches the bank
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    arrival_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    stripe_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Sum of the lines' net amounts; differs from ``amount`` when the payout does not add up.
    lines_total: Mapped[int | None]
    flag: Mapped[str | None] = mapped_column(String(40), index=True)
    flag_detail: Mapped[str | None] = mapped_column(Text)
    # A payout the bank sent back (payout.failed): its money is in the Stripe balance again.
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    failure_code: Mapped[str | None] = mapped_column(String(60))
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    lines: Mapped[list[PayoutLine]] = relationship(
        back_populates="payout", order_by="PayoutLine.id", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Payout {self.stripe_payout_id} {self.amount} {self.currency} {self.status}>"


class PayoutLine(db.Model):
    """One balance transaction contained in a payout, matched to a ledger row where possible."""

    __tablename__ = "payout_lines"
    __table_args__ = (UniqueConstraint("payout_id", "balance_transaction_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payout_id: Mapped[int] = mapped_column(ForeignKey("payouts.id", ondelete="CASCADE"))
    balance_transaction_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(30))  # charge, refund, adjustment, stripe_fee, ...
    source_id: Mapped[str | None] = mapped_column(String(64), index=True)  # ch_..., re_..., dp_...
    amount: Mapped[int]
    fee: Mapped[int] = mapped_column(default=0)
    net: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"))

    payout: Mapped[Payout] = relationship(back_populates="lines")

    def __repr__(self) -> str:
        return f"<PayoutLine {self.balance_transaction_id} {self.type} {self.net}>"


class AccountingAccount(db.Model):
    """The account number used for one accounting category (set by admins; defaults in code)."""

    __tablename__ = "accounting_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # membership, partner_plan, featured, stripe_fees, bank, stripe_clearing, ...
    key: Mapped[str] = mapped_column(String(40), unique=True)
    number: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<AccountingAccount {self.key} {self.number}>"

"""Membership tiers and adhesion periods."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.database import UTCDateTime, utcnow
from marketplace.extensions import db
from marketplace.i18n import localized


class MembershipTier(db.Model):
    """A yearly membership level with its price in minor units."""

    __tablename__ = "membership_tiers"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_positive"),
        CheckConstraint("months > 0", name="months_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_fr: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    months: Mapped[int] = mapped_column(default=12)
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)
    # Eligibility: open only to alumni who left school at most this many years ago (a
    # young-graduate tier); None means every verified alumnus.
    max_years_since_leaving: Mapped[int | None]

    @property
    def name(self) -> str:
        return localized(self, "name")

    def is_open_to(self, graduation_year: int | None, *, year: int) -> bool:
        """Whether someone who left school in ``graduation_year`` may take this tier in ``year``."""
        if self.max_years_since_leaving is None:
            return True
        return (
            graduation_year is not None and year - graduation_year <= self.max_years_since_leaving
        )

    def __repr__(self) -> str:
        return f"<MembershipTier {self.code} {self.amount} {self.currency}>"


class Membership(db.Model):
    """A dated adhesion period of one tier: paid (payments issue) or granted by staff."""

    __tablename__ = "memberships"
    __table_args__ = (
        CheckConstraint("ends_on > starts_on", name="period_positive"),
        # Scale (issue 8): the dashboard's membership counts group the periods by person.
        Index("ix_memberships_user_period", "user_id", "starts_on", "ends_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("membership_tiers.id"))
    starts_on: Mapped[date]
    ends_on: Mapped[date] = mapped_column(index=True)
    source: Mapped[str] = mapped_column(String(20), default="staff")
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), unique=True)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    tier: Mapped[MembershipTier | None] = relationship()

    def __repr__(self) -> str:
        return f"<Membership user={self.user_id} {self.starts_on}..{self.ends_on}>"

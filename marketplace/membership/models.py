"""Membership tiers."""

from __future__ import annotations

from flask_babel import get_locale
from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.extensions import db


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

    @property
    def name(self) -> str:
        locale = get_locale()
        return self.name_en if locale and locale.language == "en" else self.name_fr

    def __repr__(self) -> str:
        return f"<MembershipTier {self.code} {self.amount} {self.currency}>"

"""Offers, their code pools, redemptions, status history and daily statistics."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.catalog.models import Category
from marketplace.database import UTCDateTime, utcnow
from marketplace.extensions import db
from marketplace.i18n import localized
from partners.models import Partner


class OfferStatus(enum.StrEnum):
    """The offer lifecycle: draft → submitted → published → paused → expired / archived."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    CHANGES_REQUESTED = "changes_requested"
    REJECTED = "rejected"
    PUBLISHED = "published"
    PAUSED = "paused"
    EXPIRED = "expired"
    ARCHIVED = "archived"


class Audience(enum.StrEnum):
    ALUMNI = "alumni"
    MEMBERS = "members"


class RedemptionMethod(enum.StrEnum):
    """How a member gets the benefit."""

    SHARED_CODE = "shared_code"
    UNIQUE_CODES = "unique_codes"
    GENERATED_CODES = "generated_codes"
    VOUCHER = "voucher"
    LINK = "link"


class LimitPeriod(enum.StrEnum):
    """The period over which ``per_member_limit`` counts."""

    EVER = "ever"
    WEEK = "week"
    MONTH = "month"


def _enum(kind: type[enum.Enum]) -> Enum:
    return Enum(kind, native_enum=False, length=20, validate_strings=True)


class Offer(db.Model):
    """A partner's discount offer, in French and/or English."""

    __tablename__ = "offers"
    __table_args__ = (
        CheckConstraint(
            "total_limit IS NULL OR redeemed_count <= total_limit", name="within_total_limit"
        ),
        CheckConstraint("redeemed_count >= 0", name="redeemed_count_positive"),
        CheckConstraint("per_member_limit >= 1", name="per_member_limit_positive"),
        Index("ix_offers_status_published_at", "status", "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    status: Mapped[OfferStatus] = mapped_column(_enum(OfferStatus), default=OfferStatus.DRAFT)
    title_fr: Mapped[str | None] = mapped_column(String(160))
    title_en: Mapped[str | None] = mapped_column(String(160))
    summary_fr: Mapped[str | None] = mapped_column(String(300))
    summary_en: Mapped[str | None] = mapped_column(String(300))
    description_fr: Mapped[str | None] = mapped_column(Text)
    description_en: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(String(120))
    online: Mapped[bool] = mapped_column(default=False)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    audience: Mapped[Audience] = mapped_column(_enum(Audience), default=Audience.ALUMNI)
    redemption_method: Mapped[RedemptionMethod] = mapped_column(
        _enum(RedemptionMethod), default=RedemptionMethod.SHARED_CODE
    )
    shared_code: Mapped[str | None] = mapped_column(String(80))
    link_url: Mapped[str | None] = mapped_column(String(500))
    total_limit: Mapped[int | None]
    per_member_limit: Mapped[int] = mapped_column(default=1)
    limit_period: Mapped[LimitPeriod] = mapped_column(_enum(LimitPeriod), default=LimitPeriod.EVER)
    reveal_ttl_minutes: Mapped[int | None]
    redeemed_count: Mapped[int] = mapped_column(default=0)
    # Edits to a published offer wait here for review while the approved version stays live.
    pending_changes: Mapped[dict | None] = mapped_column(db.JSON)
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    moderator_message: Mapped[str | None] = mapped_column(Text)
    # Accent-folded text of each language, maintained by the services, indexed for search.
    search_fr: Mapped[str] = mapped_column(Text, default="")
    search_en: Mapped[str] = mapped_column(Text, default="")
    low_stock_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sold_out_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The optional picture's token (offers/pictures.py names its files after it).
    picture: Mapped[str | None] = mapped_column(String(32))
    # Paid featured placement: listed first until then (see FeaturedPlacement).
    featured_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)

    partner: Mapped[Partner] = relationship()
    category: Mapped[Category | None] = relationship()
    country_rows: Mapped[list[OfferCountry]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="OfferCountry.country"
    )

    def __repr__(self) -> str:
        return f"<Offer {self.id} {self.status}>"

    @property
    def title(self) -> str:
        return localized(self, "title")

    @property
    def summary(self) -> str:
        return localized(self, "summary")

    @property
    def description(self) -> str:
        return localized(self, "description")

    @property
    def countries(self) -> list[str]:
        return [row.country for row in self.country_rows]


class OfferCountry(db.Model):
    """A country where an offer applies (none at all means worldwide)."""

    __tablename__ = "offer_countries"
    __table_args__ = (UniqueConstraint("offer_id", "country"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"))
    country: Mapped[str] = mapped_column(String(2), index=True)

    def __repr__(self) -> str:
        return f"<OfferCountry {self.offer_id} {self.country}>"


class OfferCode(db.Model):
    """One unique code of an offer's pool; given to at most one redemption."""

    __tablename__ = "offer_codes"
    __table_args__ = (
        UniqueConstraint("offer_id", "code"),
        Index("ix_offer_codes_available", "offer_id", "redemption_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(120))
    redemption_id: Mapped[int | None] = mapped_column(
        ForeignKey("redemptions.id", ondelete="SET NULL"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<OfferCode {self.id} offer={self.offer_id}>"


class Redemption(db.Model):
    """A member's use of an offer: the code, pass or link they received.

    ``(offer_id, user_id, period_key, sequence)`` is unique, with ``sequence`` running from 1
    to the per-member limit: the database itself refuses a member's extra redemption, even
    when two requests race.
    """

    __tablename__ = "redemptions"
    __table_args__ = (
        UniqueConstraint("offer_id", "user_id", "period_key", "sequence"),
        Index("ix_redemptions_user_redeemed_at", "user_id", "redeemed_at"),
        Index("ix_redemptions_offer_redeemed_at", "offer_id", "redeemed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    period_key: Mapped[str] = mapped_column(String(12))
    sequence: Mapped[int]
    code: Mapped[str | None] = mapped_column(String(120))
    voucher_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    redeemed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    validated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    offer: Mapped[Offer] = relationship()

    def __repr__(self) -> str:
        return f"<Redemption {self.id} offer={self.offer_id} user={self.user_id}>"


class OfferStatusChange(db.Model):
    """One step of an offer's history, shown to the partner."""

    __tablename__ = "offer_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<OfferStatusChange {self.offer_id} {self.from_status}->{self.to_status}>"


class OfferDailyStat(db.Model):
    """Views, reveals and redemptions of one offer on one day."""

    __tablename__ = "offer_daily_stats"
    __table_args__ = (UniqueConstraint("offer_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"))
    day: Mapped[date]
    views: Mapped[int] = mapped_column(default=0)
    reveals: Mapped[int] = mapped_column(default=0)
    redemptions: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<OfferDailyStat {self.offer_id} {self.day}>"


class FeaturedPlacement(db.Model):
    """A paid featured placement of an offer, one per payment."""

    __tablename__ = "featured_placements"

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), unique=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<FeaturedPlacement offer={self.offer_id} {self.starts_at}..{self.ends_at}>"

"""Partner companies, the people who act for them, and invitations to join a team."""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.database import UTCDateTime, utcnow
from marketplace.extensions import db


class PartnerStatus(enum.StrEnum):
    """Where a partner's application stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class TeamRole(enum.StrEnum):
    """A representative's role in a partner team."""

    OWNER = "owner"
    MANAGER = "manager"


class Partner(db.Model):
    """A company that offers discounts and jobs to the network's alumni."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    slug: Mapped[str] = mapped_column(String(180), unique=True)
    country: Mapped[str] = mapped_column(String(2), index=True)
    website: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    contact_name: Mapped[str] = mapped_column(String(160))
    contact_email: Mapped[str] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    logo_filename: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[PartnerStatus] = mapped_column(
        Enum(PartnerStatus, native_enum=False, length=20, validate_strings=True),
        default=PartnerStatus.PENDING,
        index=True,
    )
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    members: Mapped[list[PartnerMember]] = relationship(
        back_populates="partner", order_by="PartnerMember.id"
    )

    def __repr__(self) -> str:
        return f"<Partner {self.id} {self.name!r} {self.status}>"

    @property
    def is_approved(self) -> bool:
        return self.status == PartnerStatus.APPROVED


class PartnerMember(db.Model):
    """A person acting for a partner; disabled, never deleted, so authorship survives."""

    __tablename__ = "partner_members"
    __table_args__ = (UniqueConstraint("partner_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[TeamRole] = mapped_column(
        Enum(TeamRole, native_enum=False, length=20, validate_strings=True),
        default=TeamRole.MANAGER,
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    partner: Mapped[Partner] = relationship(back_populates="members")
    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<PartnerMember partner={self.partner_id} user={self.user_id} {self.role}>"

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


class PartnerInvitation(db.Model):
    """An e-mailed invitation to join a partner team, valid 7 days, used once."""

    __tablename__ = "partner_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[TeamRole] = mapped_column(
        Enum(TeamRole, native_enum=False, length=20, validate_strings=True)
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    partner: Mapped[Partner] = relationship()

    def __repr__(self) -> str:
        return f"<PartnerInvitation partner={self.partner_id} {self.email}>"


class PlanKind(enum.StrEnum):
    """What a partner plan sells: a partnership period, or featured placement of one offer."""

    PARTNERSHIP = "partnership"
    FEATURED = "featured"


class PartnerPlan(db.Model):
    """A priced product for partners, managed by admins (annual partnership, featured 30 days)."""

    __tablename__ = "partner_plans"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("days >= 1", name="days_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[PlanKind] = mapped_column(
        Enum(PlanKind, native_enum=False, length=20, validate_strings=True)
    )
    name_fr: Mapped[str | None] = mapped_column(String(120))
    name_en: Mapped[str | None] = mapped_column(String(120))
    description_fr: Mapped[str | None] = mapped_column(Text)
    description_en: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[int]  # minor units, tax included
    currency: Mapped[str] = mapped_column(String(3), default="eur")
    days: Mapped[int]  # how long a purchase lasts (365 for an annual partnership)
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<PartnerPlan {self.code} {self.kind} {self.amount} {self.currency}>"


class PartnerPlanPeriod(db.Model):
    """A dated partnership period of a partner, paid (one per payment) or granted by staff."""

    __tablename__ = "partner_plan_periods"
    # Scale (issue 8): which partnership periods cover a day (the "official partner" badge).
    __table_args__ = (
        Index("ix_partner_plan_periods_current", "ends_on", "starts_on", "partner_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("partner_plans.id"))
    starts_on: Mapped[date]
    ends_on: Mapped[date]  # exclusive: starts_on <= day < ends_on
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    plan: Mapped[PartnerPlan | None] = relationship()

    @property
    def last_day(self) -> date:
        """The last day covered (what pages and invoices print: the end is exclusive)."""
        return max(self.starts_on, self.ends_on - timedelta(days=1))

    def __repr__(self) -> str:
        return f"<PartnerPlanPeriod partner={self.partner_id} {self.starts_on}..{self.ends_on}>"


class PartnerBillingIdentity(db.Model):
    """Who a partner's invoices are addressed to: the company's legal identity and address.

    Asked before the first payment and editable by the owners; each invoice keeps a snapshot
    of it, so a later change only reaches the invoices issued afterwards.
    """

    __tablename__ = "partner_billing_identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), unique=True
    )
    legal_name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text)  # street lines
    postal_code: Mapped[str] = mapped_column(String(20))
    city: Mapped[str] = mapped_column(String(120))
    country: Mapped[str] = mapped_column(String(2))
    siren: Mapped[str | None] = mapped_column(String(9))
    siret: Mapped[str | None] = mapped_column(String(14))
    vat_number: Mapped[str | None] = mapped_column(String(20))
    po_reference: Mapped[str | None] = mapped_column(String(60))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    def __repr__(self) -> str:
        return f"<PartnerBillingIdentity partner={self.partner_id} {self.legal_name!r}>"

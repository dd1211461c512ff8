"""Adhesion periods (staff grants and paid years), statuses, and who counts as a paying member."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select

from marketplace import audit
from marketplace.accounts.loader import MISSING, forget_facts, reader_fact
from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.errors import Conflict, InvalidInput, NotFound, NotVerified, PermissionDenied
from marketplace.extensions import db
from marketplace.i18n import localized
from marketplace.membership.models import Membership, MembershipTier
from marketplace.payments.checkout import prepare_card_setup
from marketplace.payments.gateway import SetupIntentInfo
from marketplace.payments.models import Payment, PaymentKind, PaymentProfile
from marketplace.payments.services import (
    create_payment,
)
from marketplace.payments.wording import subject_names

logger = logging.getLogger(__name__)

MAX_GRANT_MONTHS = 120


def has_active_membership(user: User, *, on: date | None = None) -> bool:
    """True when a membership period covers ``on`` (today by default): starts_on <= on < ends_on."""
    day = on or utcnow().date()
    # Loaded with the signed-in user (marketplace/accounts/loader.py): no query of its own.
    known = reader_fact(user, "paid_member", on=day)
    if known is not MISSING:
        return bool(known)
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    Membership.user_id == user.id,
                    Membership.starts_on <= day,
                    Membership.ends_on > day,
                )
            )
        )
    )


def active_membership(user: User, *, on: date | None = None) -> Membership | None:
    """The period covering ``on`` that lasts longest, or None."""
    day = on or utcnow().date()
    return db.session.scalar(
        select(Membership)
        .where(Membership.user_id == user.id, Membership.starts_on <= day, Membership.ends_on > day)
        .order_by(Membership.ends_on.desc())
        .limit(1)
    )


def grant_membership(
    user: User,
    *,
    actor: User | None,
    months: int = 12,
    tier: MembershipTier | None = None,
    starts_on: date | None = None,
) -> Membership:
    """Give ``user`` a staff-granted period of ``months`` months (audited)."""
    if not 1 <= months <= MAX_GRANT_MONTHS:
        raise InvalidInput(_("A membership lasts between 1 and %(n)d months.", n=MAX_GRANT_MONTHS))
    start = starts_on or utcnow().date()
    membership = Membership(
        user_id=user.id,
        tier_id=tier.id if tier is not None else None,
        starts_on=start,
        ends_on=start + relativedelta(months=months),
        source="staff",
        granted_by_id=getattr(actor, "id", None),
    )
    db.session.add(membership)
    db.session.flush()
    forget_facts(user)  # the membership loaded with the user has just changed
    audit.record(
        "membership.granted",
        actor=actor,
        object_type="user",
        object_id=user.id,
        membership_id=membership.id,
        starts_on=start.isoformat(),
        ends_on=membership.ends_on.isoformat(),
        tier=tier.code if tier is not None else None,
    )
    logger.info(
        "membership %s granted to user %s by %s", membership.id, user.id, membership.granted_by_id
    )
    return membership


# ---------------------------------------------------------------- status

GRACE_DAYS = 30


class MembershipStatus(enum.StrEnum):
    """Where a person stands: a period covers today, ended lately, ended long ago, never."""

    ACTIVE = "active"
    GRACE = "grace"
    LAPSED = "lapsed"
    NONE = "none"


@dataclass(frozen=True)
class MembershipState:
    """The answer of ``membership_status``: the status, its tier and the last day covered."""

    status: MembershipStatus
    tier: MembershipTier | None
    valid_until: date | None


def latest_membership(user: User) -> Membership | None:
    """The period that ends last (current or past; a period paid ahead counts too)."""
    return db.session.scalar(
        select(Membership)
        .where(Membership.user_id == user.id)
        .order_by(Membership.ends_on.desc(), Membership.id.desc())
        .limit(1)
    )


def membership_status(user: User, today: date | None = None) -> MembershipState:
    """Active (a period covers today), grace (ended within 30 days), lapsed, or none."""
    day = today or utcnow().date()
    current = active_membership(user, on=day)
    if current is not None:
        # Periods paid ahead continue the current one: report the end of the chain.
        return MembershipState(MembershipStatus.ACTIVE, current.tier, _chain_end(user, current))
    last = db.session.scalar(
        select(Membership)
        .where(Membership.user_id == user.id, Membership.ends_on <= day)
        .order_by(Membership.ends_on.desc(), Membership.id.desc())
        .limit(1)
    )
    if last is None:
        return MembershipState(MembershipStatus.NONE, None, None)
    status = (
        MembershipStatus.GRACE
        if (day - last.ends_on).days <= GRACE_DAYS
        else MembershipStatus.LAPSED
    )
    return MembershipState(status, last.tier, _last_day(last.ends_on))


def _last_day(ends_on: date) -> date:
    # ``ends_on`` is exclusive (starts_on <= day < ends_on): the last day covered is the eve.
    return ends_on - timedelta(days=1)


def _chain_end(user: User, current: Membership) -> date:
    end = current.ends_on
    for period in db.session.scalars(
        select(Membership)
        .where(Membership.user_id == user.id, Membership.ends_on > end)
        .order_by(Membership.starts_on)
    ):
        if period.starts_on > end:
            break
        end = max(end, period.ends_on)
    return _last_day(end)


# ---------------------------------------------------------------- paid periods


def paid_period_start(user: User, *, today: date | None = None) -> date:
    """Where a newly paid year starts: today, or the end of the current chain (early renewal)."""
    day = today or utcnow().date()
    current = active_membership(user, on=day)
    if current is None:
        return day
    return _chain_end(user, current) + timedelta(days=1)


def fulfil_membership_payment(payment: Payment) -> None:
    """Fulfilment of a MEMBERSHIP payment: a period of the tier's months, once per payment."""
    if payment.payer_id is None:
        logger.warning("membership payment %s has no payer: nothing to fulfil", payment.id)
        return
    existing = db.session.scalar(select(Membership).where(Membership.payment_id == payment.id))
    if existing is not None:
        return
    user = db.session.get(User, payment.payer_id)
    subject = payment.subject or {}
    tier = db.session.scalar(
        select(MembershipTier).where(MembershipTier.code == subject.get("tier"))
    )
    months = int(subject.get("months") or (tier.months if tier is not None else 12))
    start = paid_period_start(user)
    membership = Membership(
        user_id=user.id,
        tier_id=tier.id if tier is not None else None,
        starts_on=start,
        ends_on=start + relativedelta(months=months),
        source="payment",
        payment_id=payment.id,
    )
    db.session.add(membership)
    db.session.flush()
    forget_facts(user)  # the membership loaded with the user has just changed
    logger.info(
        "membership %s (%s..%s) paid by payment %s",
        membership.id,
        membership.starts_on,
        membership.ends_on,
        payment.id,
    )


def reverse_membership_payment(payment: Payment) -> None:
    """Reversal of a fully refunded MEMBERSHIP payment: its period ends today (or is removed)."""
    membership = db.session.scalar(select(Membership).where(Membership.payment_id == payment.id))
    if membership is None:
        return
    today = utcnow().date()
    if membership.starts_on >= today:
        logger.info("membership %s removed: payment %s refunded", membership.id, payment.id)
        db.session.delete(membership)
    elif membership.ends_on > today:
        logger.info("membership %s ended: payment %s refunded", membership.id, payment.id)
        membership.ends_on = today
    db.session.flush()


# ---------------------------------------------------------------- checkout


class TierNotEligible(PermissionDenied):
    """The tier's eligibility rule (years since leaving school) excludes this alumnus."""

    code = "tier_not_eligible"
    message = _l("This membership tier is not open to you (it is for recent graduates).")


def tier_open_to(tier: MembershipTier, user: User, *, today: date | None = None) -> bool:
    """Whether ``user`` meets the tier's eligibility rule (on their declared leaving year)."""
    profile = user.alumni_profile
    year = (today or utcnow().date()).year
    return tier.is_open_to(profile.graduation_year if profile else None, year=year)


def offered_tiers(user: User | None = None) -> list[MembershipTier]:
    """The tiers open to new members, in display order; those ``user`` may take, if given."""
    tiers = db.session.scalars(
        select(MembershipTier)
        .where(MembershipTier.active.is_(True))
        .order_by(MembershipTier.position, MembershipTier.amount)
    )
    return [tier for tier in tiers if user is None or tier_open_to(tier, user)]


def start_checkout(user: User, *, tier_code: str) -> tuple[Payment, SetupIntentInfo]:
    """Open a membership payment of an offered tier: the ledger row and the card SetupIntent."""
    if not user.is_verified_alumnus:
        raise NotVerified()
    tier = db.session.scalar(
        select(MembershipTier).where(
            MembershipTier.code == tier_code, MembershipTier.active.is_(True)
        )
    )
    if tier is None:
        raise NotFound(_("This membership tier is not offered."))
    if not tier_open_to(tier, user):
        raise TierNotEligible()
    payment = create_payment(
        kind=PaymentKind.MEMBERSHIP,
        amount=tier.amount,
        currency=tier.currency,
        payer=user,
        subject={
            "tier": tier.code,
            "months": tier.months,
            **subject_names(name_fr=tier.name_fr, name_en=tier.name_en),
        },
        description=f"Membership {tier.code}, {tier.months} months",
    )
    setup = prepare_card_setup(payment, user=user)
    return payment, setup


def set_auto_renew(user: User, *, enabled: bool) -> PaymentProfile:
    """Opt in or out of the yearly renewal with the card saved at the last checkout."""
    profile = db.session.scalar(select(PaymentProfile).where(PaymentProfile.user_id == user.id))
    if profile is None or (enabled and not profile.payment_method_id):
        raise Conflict(_("Pay your membership by card once to turn on automatic renewal."))
    profile.auto_renew = enabled
    db.session.flush()
    logger.info("auto-renewal of user %s: %s", user.id, enabled)
    return profile


# ---------------------------------------------------------------- what its documents say


def membership_paid_for(payment: Payment) -> tuple[date, date] | None:
    """The days (start, end exclusive) a membership payment paid for, or None."""
    membership = db.session.scalar(select(Membership).where(Membership.payment_id == payment.id))
    if membership is None:
        return None
    return membership.starts_on, membership.ends_on


def membership_designation(payment: Payment) -> str:
    """What a membership payment bought, as its attestation names it."""
    tier = db.session.scalar(
        select(MembershipTier).where(MembershipTier.code == (payment.subject or {}).get("tier"))
    )
    if tier is not None:
        name = localized(tier, "name") or tier.code
    else:
        name = str((payment.subject or {}).get("tier") or payment.description)
    return _("Membership dues, %(tier)s", tier=name)

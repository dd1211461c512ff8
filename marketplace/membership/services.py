"""Adhesion periods (staff grants and paid years), statuses, and who counts as a paying member."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from flask_babel import gettext as _
from sqlalchemy import exists, select

from marketplace import audit
from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.errors import Conflict, InvalidInput, NotFound, NotVerified
from marketplace.extensions import db
from marketplace.membership.models import Membership, MembershipTier
from marketplace.payments import gateway
from marketplace.payments.gateway import SetupIntentInfo
from marketplace.payments.models import Payment, PaymentKind, PaymentProfile, PaymentStatus
from marketplace.payments.services import (
    PAID_STATUSES,
    CardRefused,
    PaymentError,
    PaymentServiceUnavailable,
    PaymentStateConflict,
    confirm_payment,
    create_payment,
    payment_intent_client_secret,
    prepare_card_setup,
    register_fulfilment,
    register_reversal,
    sync_payment,
)

logger = logging.getLogger(__name__)

MAX_GRANT_MONTHS = 120


def has_active_membership(user: User, *, on: date | None = None) -> bool:
    """True when a membership period covers ``on`` (today by default): starts_on <= on < ends_on."""
    day = on or utcnow().date()
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


register_fulfilment(PaymentKind.MEMBERSHIP, fulfil_membership_payment)
register_reversal(PaymentKind.MEMBERSHIP, reverse_membership_payment)


# ---------------------------------------------------------------- checkout


def offered_tiers() -> list[MembershipTier]:
    """The tiers open to new members, in display order."""
    return list(
        db.session.scalars(
            select(MembershipTier)
            .where(MembershipTier.active.is_(True))
            .order_by(MembershipTier.position, MembershipTier.amount)
        )
    )


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
    payment = create_payment(
        kind=PaymentKind.MEMBERSHIP,
        amount=tier.amount,
        currency=tier.currency,
        payer=user,
        subject={"tier": tier.code, "months": tier.months},
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


@dataclass(frozen=True)
class CardAttempt:
    """Where a card payment stands for the page or the API after a confirm or a sync."""

    payment: Payment
    status: str  # succeeded | requires_action | failed | pending
    payment_intent_client_secret: str | None = None
    message: str | None = None


def _setup_intent(payment: Payment) -> SetupIntentInfo:
    if not payment.stripe_setup_intent_id:
        raise PaymentStateConflict()
    try:
        return gateway.get_gateway().retrieve_setup_intent(payment.stripe_setup_intent_id)
    except gateway.GatewayUnavailable as error:
        raise PaymentServiceUnavailable(error.user_message) from error
    except gateway.GatewayError as error:
        raise PaymentError(error.user_message) from error


def card_setup_secret(payment: Payment) -> str | None:
    """The client secret of the payment's SetupIntent while the card form is usable, else None."""
    if payment.status not in (PaymentStatus.PENDING, PaymentStatus.FAILED):
        return None
    if not payment.stripe_setup_intent_id:
        return None
    setup = _setup_intent(payment)
    if setup.status == "canceled":
        return None
    if payment.status == PaymentStatus.FAILED and setup.status == "succeeded":
        return None  # that card was refused: "Try another card" makes a new SetupIntent
    return setup.client_secret


def _attempt(payment: Payment, message: str | None = None) -> CardAttempt:
    status = payment.status
    if status in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
        return CardAttempt(payment, "failed", message=message or payment.failure_message)
    if status == PaymentStatus.REQUIRES_ACTION:
        return CardAttempt(
            payment, "requires_action", payment_intent_client_secret(payment), message
        )
    if status == PaymentStatus.PENDING:
        return CardAttempt(payment, "pending", message=message)
    return CardAttempt(payment, "succeeded")


def _remember_card(payment: Payment, payment_method: str | None) -> None:
    """Keep a membership's card (set up for off-session use) for the yearly auto-renewal."""
    if payment.kind != PaymentKind.MEMBERSHIP or not payment_method or payment.payer_id is None:
        return
    profile = db.session.scalar(
        select(PaymentProfile).where(PaymentProfile.user_id == payment.payer_id)
    )
    if profile is None or profile.stripe_customer_id != payment.stripe_customer_id:
        return
    if profile.payment_method_id != payment_method:
        profile.payment_method_id = payment_method
        profile.card_brand = None
        profile.card_last4 = None
        db.session.flush()


def pay_with_card(payment: Payment, *, payment_method: str) -> CardAttempt:
    """Charge the card just confirmed on the payment's SetupIntent; keep it for renewals."""
    setup = _setup_intent(payment)
    if setup.status != "succeeded" or setup.payment_method != payment_method:
        raise InvalidInput(_("This card was not set up for this payment."))
    payment_id = payment.id
    try:
        payment = confirm_payment(payment_id, payment_method=payment_method)
    except CardRefused as error:
        # confirm_payment has recorded the failure; the caller answers "failed", not an error.
        return _attempt(db.session.get(Payment, payment_id), str(error.message))
    if payment.status in PAID_STATUSES or payment.status == PaymentStatus.REQUIRES_ACTION:
        _remember_card(payment, payment_method)
    return _attempt(payment)


def finish_card_payment(payment: Payment) -> CardAttempt:
    """After 3-D Secure on the page: sync the payment with Stripe and say where it stands."""
    return _attempt(sync_payment(payment.id))


def retry_card_setup(payment: Payment, *, user: User) -> SetupIntentInfo:
    """A new SetupIntent for another card after a declined one."""
    if payment.status not in (PaymentStatus.PENDING, PaymentStatus.FAILED):
        raise PaymentStateConflict()
    return prepare_card_setup(payment, user=user)

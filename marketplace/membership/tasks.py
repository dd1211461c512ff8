"""Membership jobs of ``tasks run-due``: reminders before the end, yearly auto-renewal.

Reminders go 30, 7 and 1 days before a membership ends, each once: an audit row
``membership.reminder.<days>`` on the membership is the record that it was sent. The
auto-renewal charges the saved card (``off_session``) of members who opted in, when their
membership ends within 3 days; a failed attempt e-mails a link to pay by hand, and a member
is charged at most once a day.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import aliased

from marketplace import audit
from marketplace.accounts.models import User
from marketplace.audit import AuditLog
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.i18n import N_
from marketplace.membership import services
from marketplace.membership.models import Membership, MembershipTier
from marketplace.notifications.services import deliver, queue_mail
from marketplace.payments.checkout import confirm_payment
from marketplace.payments.models import Payment, PaymentKind, PaymentProfile, PaymentStatus
from marketplace.payments.services import PAID_STATUSES, create_payment
from marketplace.payments.wording import subject_names
from marketplace.routing import absolute_url
from marketplace.tasks import site_request_context

logger = logging.getLogger(__name__)

REMINDER_DAYS = (30, 7, 1)
AUTO_RENEW_WITHIN_DAYS = 3
RETRY_AFTER = timedelta(days=1)


def _last_periods(first_day: date, last_day: date) -> list[Membership]:
    """Memberships ending in [first_day, last_day] that no later period of the person continues."""
    later = aliased(Membership)
    return list(
        db.session.scalars(
            select(Membership)
            .where(
                Membership.ends_on >= first_day,
                Membership.ends_on <= last_day,
                ~exists().where(
                    and_(later.user_id == Membership.user_id, later.ends_on > Membership.ends_on)
                ),
            )
            .order_by(Membership.ends_on, Membership.id)
        )
    )


def _reminder_sent(membership: Membership, days: int) -> bool:
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    AuditLog.action == f"membership.reminder.{days}",
                    AuditLog.object_type == "membership",
                    AuditLog.object_id == membership.id,
                )
            )
        )
    )


def send_reminders(now: datetime) -> str:
    """E-mail members whose membership ends in 30, 7 or 1 day(s); each reminder once."""
    today = now.date()
    sent: list[int] = []
    with site_request_context():
        for membership in _last_periods(today + timedelta(days=1), today + timedelta(days=30)):
            days_left = (membership.ends_on - today).days
            # The closest threshold not passed yet: a missed run sends that one, not older ones.
            due = min(days for days in REMINDER_DAYS if days >= days_left)
            if _reminder_sent(membership, due):
                continue
            user = db.session.get(User, membership.user_id)
            if user is None or user.disabled_at is not None:
                continue
            profile = db.session.scalar(
                select(PaymentProfile).where(PaymentProfile.user_id == user.id)
            )
            message = queue_mail(
                to=user.email,
                template="membership/reminder",
                subject=N_("Your membership ends soon"),
                locale=user.locale,
                user=user,
                membership=membership,
                last_day=membership.ends_on - timedelta(days=1),
                days_left=days_left,
                auto_renew=bool(profile and profile.auto_renew and profile.payment_method_id),
                membership_url=absolute_url("membership.index"),
            )
            audit.record(
                f"membership.reminder.{due}",
                actor=None,
                object_type="membership",
                object_id=membership.id,
                user_id=user.id,
                ends_on=membership.ends_on.isoformat(),
            )
            # One transaction per reminder: its mail and its record are kept or lost together.
            db.session.commit()
            sent.append(message.id)
    deliver(sent)
    return f"{len(sent)} membership reminder(s) e-mailed"


def _attempted_recently(user: User, now: datetime) -> bool:
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    Payment.payer_id == user.id,
                    Payment.kind == PaymentKind.MEMBERSHIP,
                    Payment.off_session.is_(True),
                    Payment.created_at > now - RETRY_AFTER,
                )
            )
        )
    )


def _renewal_tier(membership: Membership, user: User) -> MembershipTier | None:
    """The tier to renew: the same one while it is open and its eligibility rule still holds."""
    tier = membership.tier
    if tier is not None and tier.active and services.tier_open_to(tier, user):
        return tier
    return None


def renew(
    membership: Membership, profile: PaymentProfile, tier: MembershipTier, *, now: datetime
) -> Payment:
    """Charge the saved card for one more period of ``tier``; commits (through the payment)."""
    user = db.session.get(User, membership.user_id)
    payment = create_payment(
        kind=PaymentKind.MEMBERSHIP,
        amount=tier.amount,
        currency=tier.currency,
        payer=user,
        subject={
            "tier": tier.code,
            "months": tier.months,
            "auto_renewal": True,
            **subject_names(name_fr=tier.name_fr, name_en=tier.name_en),
        },
        description=f"Membership {tier.code}, {tier.months} months (automatic renewal)",
    )
    payment.off_session = True
    # The attempt is dated by the run (the clock of ``run_due``): one attempt a day at most.
    payment.created_at = now
    payment.stripe_customer_id = profile.stripe_customer_id
    db.session.flush()
    payment_id = payment.id
    try:
        return confirm_payment(payment_id, payment_method=profile.payment_method_id or "")
    except DomainError as error:  # a refused card (recorded as failed) or Stripe unreachable
        logger.info("auto-renewal payment %s failed: %s", payment_id, error.message)
        db.session.rollback()
        return db.session.get(Payment, payment_id)


def _renewal_failed(user: User, payment: Payment, membership: Membership) -> int:
    message = queue_mail(
        to=user.email,
        template="membership/renewal_failed",
        subject=N_("Your membership could not be renewed"),
        locale=user.locale,
        user=user,
        payment=payment,
        last_day=membership.ends_on - timedelta(days=1),
        reason_code=payment.failure_code,
        membership_url=absolute_url("membership.index"),
    )
    audit.record(
        "membership.auto_renewal.failed",
        actor=None,
        object_type="membership",
        object_id=membership.id,
        payment_id=payment.id,
        status=str(payment.status),
    )
    db.session.commit()
    return message.id


def auto_renew(now: datetime) -> str:
    """Charge the saved card of opted-in members whose membership ends within 3 days."""
    today = now.date()
    renewed = failed = deferred = 0
    mails: list[int] = []
    with site_request_context():
        candidates = [
            (membership.id, membership.user_id)
            for membership in _last_periods(
                today + timedelta(days=1), today + timedelta(days=AUTO_RENEW_WITHIN_DAYS)
            )
        ]
        for membership_id, user_id in candidates:
            profile = db.session.scalar(
                select(PaymentProfile).where(PaymentProfile.user_id == user_id)
            )
            user = db.session.get(User, user_id)
            membership = db.session.get(Membership, membership_id)
            if (
                profile is None
                or not profile.auto_renew
                or not profile.payment_method_id
                or user is None
                or user.disabled_at is not None
                or not user.is_verified_alumnus
                or _attempted_recently(user, now)
            ):
                continue
            tier = _renewal_tier(membership, user)
            if tier is None:
                continue
            payment = renew(membership, profile, tier, now=now)
            if payment.status in PAID_STATUSES:
                renewed += 1
                continue
            if payment.status == PaymentStatus.PENDING and not payment.stripe_payment_intent_id:
                # Stripe was unreachable: nothing was charged; tomorrow's run tries again.
                deferred += 1
                continue
            # Declined, or the bank wants the member (3-D Secure): e-mail a link to pay by hand.
            failed += 1
            membership = db.session.get(Membership, membership_id)
            user = db.session.get(User, user_id)
            mails.append(_renewal_failed(user, payment, membership))
    deliver(mails)
    return f"{renewed} membership(s) renewed automatically, {failed} renewal(s) failed" + (
        f", {deferred} put off (Stripe unreachable)" if deferred else ""
    )

"""Redeeming an offer and checking a QR pass: the integrity rules live here and only here.

Every rule that keeps an offer from over-issuing is enforced by the database itself, so it
holds under concurrent requests on PostgreSQL and SQLite alike:

- the total limit by a conditional ``UPDATE offers SET redeemed_count = redeemed_count + 1
  WHERE redeemed_count < total_limit`` (on PostgreSQL it also locks the offer row until the
  commit, which serialises the redemptions of one offer);
- the per-member limit by the unique ``(offer_id, user_id, period_key, sequence)``;
- a unique code by ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite every write
  transaction is exclusive from its first statement (``BEGIN IMMEDIATE``, see
  ``marketplace/database.py``).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.errors import Conflict, DomainError, NotFound, NotVerified, PermissionDenied
from marketplace.extensions import db
from marketplace.i18n import N_, country_name, country_names
from marketplace.membership.services import has_active_membership
from marketplace.notifications.services import queue_mail
from offers.models import (
    Audience,
    Offer,
    OfferCode,
    OfferDailyStat,
    OfferStatus,
    Redemption,
    RedemptionMethod,
)
from offers.reader_state import is_outside_countries, period_key
from partners.models import Partner, PartnerMember

logger = logging.getLogger(__name__)

# No 0/O, 1/I/L: a generated code is read aloud at a till or typed on a phone.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
GENERATED_CODE_LENGTH = 10
# The partner hears about a pool once it falls to this share of its codes.
LOW_STOCK_RATIO = 0.10
# PostgreSQL waits at most this long for the offer's row lock (SQLite: its busy timeout).
LOCK_TIMEOUT = "10s"


class OfferNotAvailable(NotFound):
    code = "not_available"
    message = _l("This offer is not available.")


class OfferEnded(DomainError):
    status = 410
    code = "ended"
    message = _l("This offer has ended.")


class MembersOnly(PermissionDenied):
    code = "members_only"
    message = _l("This offer is reserved for paying members of the association.")


class NotInCountry(PermissionDenied):
    code = "not_in_country"
    message = _l("This offer is not available in the country where you live.")


class OfferSoldOut(Conflict):
    code = "sold_out"
    message = _l("Sorry, this offer has been fully redeemed.")


class RedemptionLimitReached(Conflict):
    code = "limit_reached"
    message = _l("You have already used this offer as many times as it allows.")


class VoucherNotFound(NotFound):
    code = "not_found"
    message = _l("This pass does not exist or belongs to another partner.")


class VoucherAlreadyUsed(Conflict):
    code = "already_used"
    message = _l("This pass has already been used.")


class VoucherExpired(Conflict):
    code = "expired"
    message = _l("This pass has expired.")


# ---------------------------------------------------------------- redeeming


def not_in_country_message(offer: Offer, country: str | None) -> str:
    """Why a member living in ``country`` cannot use ``offer``, in their words."""
    if not country:
        return _(
            "This offer is only for members living in %(countries)s; add the country where "
            "you live to your profile.",
            countries=country_names(offer.countries),
        )
    return _(
        "This offer is only for members living in %(countries)s; your profile says you live "
        "in %(country)s.",
        countries=country_names(offer.countries),
        country=country_name(country),
    )


def generate_code() -> str:
    """A random, readable code for the generated-codes model."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(GENERATED_CODE_LENGTH))


def check_redeemable(offer: Offer | None, *, user: User, now: datetime) -> Offer:
    """Raise why ``user`` may not redeem ``offer`` now, or return the offer."""
    if offer is None:
        raise OfferNotAvailable()
    if offer.status == OfferStatus.EXPIRED or (offer.ends_at is not None and offer.ends_at <= now):
        raise OfferEnded()
    if offer.status != OfferStatus.PUBLISHED or (
        offer.starts_at is not None and offer.starts_at > now
    ):
        raise OfferNotAvailable()
    if not user.is_verified_alumnus:
        raise NotVerified()
    profile = user.alumni_profile
    if is_outside_countries(offer, profile.country if profile else None):
        raise NotInCountry(not_in_country_message(offer, profile.country if profile else None))
    if offer.audience == Audience.MEMBERS and not has_active_membership(user, on=now.date()):
        raise MembersOnly()
    return offer


def redeem_offer(offer_id: int, *, user: User, now: datetime | None = None) -> Redemption:
    """Give ``user`` the offer's code, pass or link, within every limit (flushes, no commit)."""
    now = now or utcnow()
    offer = check_redeemable(db.session.get(Offer, offer_id), user=user, now=now)
    key = period_key(offer.limit_period, now)
    # A member at their limit hears so even when the offer is sold out meanwhile; the check
    # is repeated under the lock below, and the unique constraint backs both.
    if _used(offer.id, user.id, key) >= offer.per_member_limit:
        raise RedemptionLimitReached()
    if db.session.get_bind().dialect.name == "postgresql":
        # A lock held too long (a stuck transaction) ends in 503 after this, not a hang.
        db.session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    # Everything below runs in a savepoint: a refusal leaves the caller's session untouched.
    with db.session.begin_nested():
        # Taken first: on PostgreSQL this row lock queues the redemptions of the offer, so the
        # count below sees every redemption committed before ours.
        taken = db.session.execute(
            update(Offer)
            .where(
                Offer.id == offer.id,
                (Offer.total_limit.is_(None)) | (Offer.redeemed_count < Offer.total_limit),
            )
            .values(redeemed_count=Offer.redeemed_count + 1)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:
            raise OfferSoldOut()
        db.session.expire(offer, ["redeemed_count"])
        sequence = _used(offer.id, user.id, key) + 1
        if sequence > offer.per_member_limit:
            raise RedemptionLimitReached()
        redemption = Redemption(
            offer_id=offer.id,
            user_id=user.id,
            period_key=key,
            sequence=sequence,
            redeemed_at=now,
            expires_at=(
                now + timedelta(minutes=offer.reveal_ttl_minutes)
                if offer.reveal_ttl_minutes
                else None
            ),
        )
        try:
            with db.session.begin_nested():
                db.session.add(redemption)
                db.session.flush()
        except IntegrityError as error:
            # A racing request of the same member took this sequence number first.
            raise RedemptionLimitReached() from error
        _hand_out(offer, redemption)
        _count_redemption(offer.id, now)
    logger.info("offer %s redeemed by user %s (redemption %s)", offer.id, user.id, redemption.id)
    return redemption


def _used(offer_id: int, user_id: int, key: str) -> int:
    """How many times the member redeemed the offer in the period ``key``."""
    count = db.session.scalar(
        select(func.count(Redemption.id)).where(
            Redemption.offer_id == offer_id,
            Redemption.user_id == user_id,
            Redemption.period_key == key,
        )
    )
    return count or 0


def _hand_out(offer: Offer, redemption: Redemption) -> None:
    """Put the code or the pass on the redemption, as the offer's code model says."""
    method = offer.redemption_method
    if method == RedemptionMethod.UNIQUE_CODES:
        code = db.session.scalar(
            select(OfferCode)
            .where(OfferCode.offer_id == offer.id, OfferCode.redemption_id.is_(None))
            .order_by(OfferCode.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if code is None:
            raise OfferSoldOut()
        code.redemption_id = redemption.id
        redemption.code = code.code
        db.session.flush()
        _alert_pool(offer)
    elif method == RedemptionMethod.GENERATED_CODES:
        redemption.code = generate_code()
    elif method == RedemptionMethod.VOUCHER:
        redemption.voucher_token = secrets.token_urlsafe(24)
    elif method == RedemptionMethod.SHARED_CODE:
        redemption.code = offer.shared_code
    db.session.flush()


def _count_redemption(offer_id: int, now: datetime) -> None:
    """Add one to the offer's redemptions of the day (insert the day's row when missing)."""
    day = now.date()
    bump = (
        update(OfferDailyStat)
        .where(OfferDailyStat.offer_id == offer_id, OfferDailyStat.day == day)
        .values(redemptions=OfferDailyStat.redemptions + 1)
        .execution_options(synchronize_session=False)
    )
    if db.session.execute(bump).rowcount == 1:
        return
    try:
        with db.session.begin_nested():
            db.session.add(OfferDailyStat(offer_id=offer_id, day=day, redemptions=1))
            db.session.flush()
    except IntegrityError:
        # Another request (a page view) created the day's row meanwhile.
        db.session.execute(bump)


# ---------------------------------------------------------------- pool alerts


def _alert_pool(offer: Offer) -> None:
    """E-mail the partner's team once when the pool falls to 10 %, once when it is empty."""
    total, free = db.session.execute(
        select(
            func.count(OfferCode.id),
            func.count(OfferCode.id).filter(OfferCode.redemption_id.is_(None)),
        ).where(OfferCode.offer_id == offer.id)
    ).one()
    if free == 0 and _claim_alert(offer, Offer.sold_out_notified_at):
        _mail_team(offer, template="offers/pool_empty", subject=N_("Your code pool is empty"))
    elif 0 < free <= total * LOW_STOCK_RATIO and _claim_alert(offer, Offer.low_stock_notified_at):
        _mail_team(
            offer,
            template="offers/pool_low",
            subject=N_("Your code pool is running low"),
            free=free,
            total=total,
        )


def _claim_alert(offer: Offer, column) -> bool:
    """Set the alert's timestamp if it is still empty; True for the one request that did."""
    claimed = db.session.execute(
        update(Offer)
        .where(Offer.id == offer.id, column.is_(None))
        .values({column.key: utcnow()})
        .execution_options(synchronize_session=False)
    )
    db.session.expire(offer, [column.key])
    return claimed.rowcount == 1


def _mail_team(offer: Offer, *, template: str, subject: str, **context) -> None:
    members = db.session.scalars(
        select(User)
        .join(PartnerMember, PartnerMember.user_id == User.id)
        .where(
            PartnerMember.partner_id == offer.partner_id,
            PartnerMember.disabled_at.is_(None),
            User.disabled_at.is_(None),
        )
        .order_by(User.id)
    ).all()
    for member in members:
        queue_mail(
            to=member.email,
            template=template,
            subject=subject,
            locale=member.locale,
            user=member,
            offer=offer,
            **context,
        )
    logger.info("pool alert %s for offer %s sent to %d people", template, offer.id, len(members))


# ---------------------------------------------------------------- vouchers


def find_voucher(token: str, *, partner: Partner) -> Redemption:
    """The pass with ``token`` of one of ``partner``'s offers, or VoucherNotFound."""
    redemption = db.session.scalar(
        select(Redemption)
        .join(Offer, Offer.id == Redemption.offer_id)
        .where(Redemption.voucher_token == token, Offer.partner_id == partner.id)
    )
    if redemption is None:
        raise VoucherNotFound()
    return redemption


def voucher_state(redemption: Redemption, *, now: datetime | None = None) -> str:
    """ "used", "expired" or "valid"."""
    now = now or utcnow()
    if redemption.validated_at is not None:
        return "used"
    if redemption.expires_at is not None and redemption.expires_at <= now:
        return "expired"
    return "valid"


def validate_voucher(
    token: str, *, partner: Partner, actor: User, now: datetime | None = None
) -> Redemption:
    """Mark a pass used, once: a second check of the same pass answers VoucherAlreadyUsed."""
    now = now or utcnow()
    redemption = find_voucher(token, partner=partner)
    state = voucher_state(redemption, now=now)
    if state == "used":
        raise VoucherAlreadyUsed()
    if state == "expired":
        raise VoucherExpired()
    marked = db.session.execute(
        update(Redemption)
        .where(Redemption.id == redemption.id, Redemption.validated_at.is_(None))
        .values(validated_at=now, validated_by_id=actor.id)
        .execution_options(synchronize_session=False)
    )
    if marked.rowcount != 1:
        raise VoucherAlreadyUsed()
    db.session.refresh(redemption)
    logger.info("voucher of redemption %s validated by user %s", redemption.id, actor.id)
    return redemption

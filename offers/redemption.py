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
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, NoReturn

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Date,
    Integer,
    String,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.util import identity_key

from marketplace import cache as cache_module
from marketplace.accounts.models import User
from marketplace.database import UTCDateTime, utcnow
from marketplace.errors import Conflict, DomainError, NotFound, NotVerified, PermissionDenied
from marketplace.extensions import db
from marketplace.i18n import N_, country_name, country_names, localized
from marketplace.membership.services import has_active_membership
from marketplace.notifications.services import queue_mail
from marketplace.routing import absolute_url
from offers.models import (
    Audience,
    Offer,
    OfferCode,
    OfferCountry,
    OfferStatus,
    Redemption,
    RedemptionMethod,
)
from offers.reader_state import is_outside_countries, period_key, redeemed_by
from partners.access import active_members
from partners.models import Partner

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


@dataclass(frozen=True)
class Benefit:
    """What a redemption gave, read from the statements that made it (no ORM object)."""

    id: int
    offer_id: int
    title_fr: str | None
    title_en: str | None
    code: str | None
    voucher_token: str | None
    link: str | None
    redeemed_at: datetime
    expires_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        """The API's body, as ``RedemptionSchema`` dumps a fresh redemption."""
        body: dict[str, Any] = {
            "id": self.id,
            "offer_id": self.offer_id,
            "offer_title": localized(self, "title"),
            "redeemed_at": self.redeemed_at.isoformat(),
        }
        if self.code is not None:
            body["code"] = self.code
        if self.voucher_token:
            # What the pass's QR code holds (offers.wallet.check_url), without importing the
            # wallet's pages.
            body["voucher_url"] = absolute_url("offers.wallet.check", token=self.voucher_token)
        if self.link is not None:
            body["link"] = self.link
        if self.expires_at is not None:
            body["expires_at"] = self.expires_at.isoformat()
        return body


def redeem_offer(offer_id: int, *, user: User, now: datetime | None = None) -> Redemption:
    """``redeem`` for callers that want the ORM row (one query more than ``redeem``)."""
    benefit = redeem(offer_id, user=user, now=now)
    return db.session.get_one(Redemption, benefit.id)


def redeem(offer_id: int, *, user: User, now: datetime | None = None) -> Benefit:
    """Give ``user`` the offer's code, pass or link, within every limit (no commit).

    The hot path is three statements (four with a pool of unique codes, plus the pool's
    count): the conditional ``UPDATE … RETURNING`` of the offer's counter, which checks its
    dates and total limit, locks its row and returns what the rest needs; the ``INSERT …
    SELECT`` of the redemption, which counts the member's redemptions of the period under
    that lock and inserts nothing at the limit; the day's statistics as one upsert. A refusal
    takes the slow path, which says why in the order of ``check_redeemable`` and undoes what
    the hot path did, so the caller's transaction is left as it was.
    """
    now = now or utcnow()
    if not user.is_verified_alumnus:
        _refuse(offer_id, user=user, now=now)
    connection = db.session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        # A lock held too long (a stuck transaction) ends in 503 after this, not a hang.
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    # On PostgreSQL this row lock queues the redemptions of the offer until the commit, so
    # the count in the INSERT below sees every redemption committed before ours.
    offer = connection.execute(_take_statement(), {"offer_id": offer_id, "now": now}).first()
    if offer is None:
        _refuse(offer_id, user=user, now=now)
    profile = user.alumni_profile
    country = profile.country if profile else None
    listed = offer.countries.split(",") if offer.countries else []
    if listed and (country or "").upper() not in listed:
        _give_back(offer_id)
        _refuse(offer_id, user=user, now=now)
    if offer.audience == Audience.MEMBERS and not has_active_membership(user, on=now.date()):
        _give_back(offer_id)
        _refuse(offer_id, user=user, now=now)
    method = offer.redemption_method
    code = None
    if method == RedemptionMethod.SHARED_CODE:
        code = offer.shared_code
    elif method == RedemptionMethod.GENERATED_CODES:
        code = generate_code()
    token = secrets.token_urlsafe(24) if method == RedemptionMethod.VOUCHER else None
    expires_at = (
        now + timedelta(minutes=offer.reveal_ttl_minutes) if offer.reveal_ttl_minutes else None
    )
    key = period_key(offer.limit_period, now)
    redemption_id = _insert(
        connection,
        offer_id,
        user_id=user.id,
        key=key,
        limit=offer.per_member_limit,
        code=code,
        token=token,
        now=now,
        expires_at=expires_at,
    )
    if redemption_id is None:
        _give_back(offer_id)
        raise RedemptionLimitReached()
    if method == RedemptionMethod.UNIQUE_CODES:
        code = _claim_code(offer_id, redemption_id)
        if code is None:
            db.session.execute(delete(Redemption).where(Redemption.id == redemption_id))
            _give_back(offer_id)
            raise OfferSoldOut()
        _alert_pool(offer_id)
    connection.execute(_count_statement(), {"offer_id": offer_id, "day": now.date()})
    # The member's redeemed offers, cached for their pages, are read afresh after the commit.
    cache_module.written(db.session(), redeemed_by(user.id))
    logger.info("offer %s redeemed by user %s (redemption %s)", offer_id, user.id, redemption_id)
    return Benefit(
        id=redemption_id,
        offer_id=offer_id,
        title_fr=offer.title_fr,
        title_en=offer.title_en,
        code=code,
        voucher_token=token,
        link=offer.link_url,
        redeemed_at=now,
        expires_at=expires_at,
    )


# The hot path's statements, built once per process (building them cost more CPU than
# running them) and sent on the session's connection without the ORM: they write counters
# and rows that no cached value reads (marketplace/cache.py's versions stay where they are).


@cache
def _take_statement() -> Any:
    """Take one place: the offer is live and under its total limit (bound: offer_id, now)."""
    offers = Offer.__table__
    now = bindparam("now", type_=UTCDateTime())
    countries = (
        select(func.aggregate_strings(OfferCountry.country, ","))
        # Bound, not correlated: SQLite's RETURNING names the offer's columns unqualified.
        .where(OfferCountry.offer_id == bindparam("offer_id"))
        .scalar_subquery()
    )
    return (
        update(offers)
        .where(
            offers.c.id == bindparam("offer_id"),
            offers.c.status == OfferStatus.PUBLISHED,
            or_(offers.c.starts_at.is_(None), offers.c.starts_at <= now),
            or_(offers.c.ends_at.is_(None), offers.c.ends_at > now),
            or_(offers.c.total_limit.is_(None), offers.c.redeemed_count < offers.c.total_limit),
        )
        .values(redeemed_count=offers.c.redeemed_count + 1)
        .returning(
            offers.c.audience,
            offers.c.redemption_method,
            offers.c.shared_code,
            offers.c.link_url,
            offers.c.per_member_limit,
            offers.c.limit_period,
            offers.c.reveal_ttl_minutes,
            offers.c.title_fr,
            offers.c.title_en,
            countries.label("countries"),
        )
    )


@cache
def _insert_statement() -> Any:
    """The member's next redemption of the period, unless at the limit (see ``_insert``)."""
    redemptions = Redemption.__table__
    used = (
        select(func.count(redemptions.c.id).label("used"))
        .where(
            redemptions.c.offer_id == bindparam("offer_id"),
            redemptions.c.user_id == bindparam("user_id"),
            redemptions.c.period_key == bindparam("period_key"),
        )
        .subquery()
    )
    rows = select(
        bindparam("offer_id", type_=Integer()),
        bindparam("user_id", type_=Integer()),
        bindparam("period_key", type_=String()),
        used.c.used + 1,
        bindparam("code", type_=String()),
        bindparam("voucher_token", type_=String()),
        bindparam("redeemed_at", type_=UTCDateTime()),
        bindparam("expires_at", type_=UTCDateTime()),
    ).where(used.c.used < bindparam("limit", type_=Integer()))
    columns = [
        "offer_id",
        "user_id",
        "period_key",
        "sequence",
        "code",
        "voucher_token",
        "redeemed_at",
        "expires_at",
    ]
    return insert(redemptions).from_select(columns, rows).returning(redemptions.c.id)


@cache
def _count_statement() -> Any:
    """One more redemption on the offer's day row, made when missing (bound: offer_id, day).

    Written as text: SQLAlchemy gives an ``ON CONFLICT`` upsert no cache key, so the built
    statement was compiled again on every redemption; the text is compiled once. The same SQL
    runs on PostgreSQL and SQLite (3.24+).
    """
    return text(
        "INSERT INTO offer_daily_stats (offer_id, day, views, reveals, redemptions) "
        "VALUES (:offer_id, :day, 0, 0, 1) "
        "ON CONFLICT (offer_id, day) "
        "DO UPDATE SET redemptions = offer_daily_stats.redemptions + 1"
    ).bindparams(bindparam("offer_id", type_=Integer()), bindparam("day", type_=Date()))


def _refuse(offer_id: int, *, user: User, now: datetime) -> NoReturn:
    """Raise why ``user`` may not redeem the offer now (the slow path of a refusal)."""
    offer = check_redeemable(db.session.get(Offer, offer_id), user=user, now=now)
    if _used(offer.id, user.id, period_key(offer.limit_period, now)) >= offer.per_member_limit:
        raise RedemptionLimitReached()
    raise OfferSoldOut()


def _give_back(offer_id: int) -> None:
    """Undo the hot path's counter (its row is still locked by this transaction)."""
    offers = Offer.__table__
    db.session.execute(
        update(offers)
        .where(offers.c.id == offer_id)
        .values(redeemed_count=offers.c.redeemed_count - 1)
    )


def _insert(
    connection: Any,
    offer_id: int,
    *,
    user_id: int,
    key: str,
    limit: int,
    code: str | None,
    token: str | None,
    now: datetime,
    expires_at: datetime | None,
) -> int | None:
    """Insert the member's next redemption of the period, unless they are at ``limit``.

    The count and the insert are one statement, run under the offer's row lock: a member's
    racing requests each see the other's committed row; the unique ``(offer_id, user_id,
    period_key, sequence)`` backs it. None at the limit.
    """
    values = {
        "offer_id": offer_id,
        "user_id": user_id,
        "period_key": key,
        "code": code,
        "voucher_token": token,
        "redeemed_at": now,
        "expires_at": expires_at,
        "limit": limit,
    }
    try:
        return connection.execute(_insert_statement(), values).scalar()
    except IntegrityError as error:
        # Only a racing request of the same member taking this sequence number could get
        # here; the offer's row lock (PostgreSQL) and BEGIN IMMEDIATE (SQLite) rule it out.
        raise RedemptionLimitReached() from error


def _claim_code(offer_id: int, redemption_id: int) -> str | None:
    """Give the redemption the pool's next free code; None when the pool is empty."""
    codes = OfferCode.__table__
    free = (
        select(codes.c.id)
        .where(codes.c.offer_id == offer_id, codes.c.redemption_id.is_(None))
        .order_by(codes.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    code = db.session.execute(
        update(codes)
        .where(codes.c.id == free)
        .values(redemption_id=redemption_id)
        .returning(codes.c.code)
    ).scalar()
    if code is not None:
        db.session.execute(
            update(Redemption.__table__)
            .where(Redemption.__table__.c.id == redemption_id)
            .values(code=code)
        )
    return code


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


# ---------------------------------------------------------------- pool alerts


def _alert_pool(offer_id: int) -> None:
    """E-mail the partner's team once when the pool falls to 10 %, once when it is empty."""
    total, free = db.session.execute(
        select(
            func.count(OfferCode.id),
            func.count(OfferCode.id).filter(OfferCode.redemption_id.is_(None)),
        ).where(OfferCode.offer_id == offer_id)
    ).one()
    if free == 0 and _claim_alert(offer_id, Offer.sold_out_notified_at):
        _mail_team(
            db.session.get_one(Offer, offer_id),
            template="offers/pool_empty",
            subject=N_("Your code pool is empty"),
        )
    elif 0 < free <= total * LOW_STOCK_RATIO and _claim_alert(
        offer_id, Offer.low_stock_notified_at
    ):
        _mail_team(
            db.session.get_one(Offer, offer_id),
            template="offers/pool_low",
            subject=N_("Your code pool is running low"),
            free=free,
            total=total,
        )


def _claim_alert(offer_id: int, column) -> bool:
    """Set the alert's timestamp if it is still empty; True for the one request that did."""
    claimed = db.session.execute(
        update(Offer)
        .where(Offer.id == offer_id, column.is_(None))
        .values({column.key: utcnow()})
        .execution_options(synchronize_session=False)
    )
    offer = db.session.identity_map.get(identity_key(Offer, offer_id))
    if offer is not None:
        db.session.expire(offer, [column.key])
    return claimed.rowcount == 1


def _mail_team(offer: Offer, *, template: str, subject: str, **context) -> None:
    # The partner's active team, but not a representative whose account is disabled.
    members = [user for user in active_members(offer.partner_id) if user.disabled_at is None]
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

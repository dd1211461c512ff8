"""What the person reading an offer can do with it: one computation for the offer page, the
cards of a listing and the API's ``reader_state``.

``read_offers(offers, reader)`` answers for a whole page of offers with a fixed number of
queries (the reader's redemptions of those offers, in one query), whatever the number of
offers; ``Reader.load`` reads who is reading once per request from the signed-in user (its
membership is asked only when a members-only offer needs it). The redemption service
(``offers.redemption.check_redeemable``) enforces the same rules; this module says them in
advance.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property

from sqlalchemy import select

from marketplace import cache as cache_module
from marketplace.accounts.loader import MISSING, reader_fact
from marketplace.accounts.models import User, VerificationStatus
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.services import has_active_membership
from offers.models import (
    Audience,
    LimitPeriod,
    Offer,
    OfferStatus,
    Redemption,
    RedemptionMethod,
)


class ReaderState(enum.StrEnum):
    """Where the reader stands with one offer (also the API's ``reader_state``)."""

    CAN_REDEEM = "can_redeem"
    SIGN_IN = "sign_in"
    PENDING_VERIFICATION = "pending_verification"
    MEMBERS_ONLY = "members_only"
    ALREADY_REDEEMED = "already_redeemed"
    LIMIT_REACHED = "limit_reached"
    SOLD_OUT = "sold_out"
    NOT_STARTED = "not_started"
    ENDED = "ended"
    NOT_IN_COUNTRY = "not_in_country"


@dataclass
class Reader:
    """Who is reading: nobody (a visitor), or a person with what the offers depend on."""

    user: User | None = None
    verified: bool = False
    country: str | None = None
    verification: VerificationStatus | None = None
    email_confirmed: bool = False
    day: date | None = None

    @classmethod
    def load(cls, user: User | None, *, now: datetime | None = None) -> Reader:
        """The reader behind ``user`` (None or anonymous: a visitor); no query of its own."""
        if user is None or not getattr(user, "is_authenticated", False):
            return cls()
        profile = user.alumni_profile
        return cls(
            user=user,
            verified=user.is_verified_alumnus,
            country=profile.country if profile else None,
            verification=profile.status if profile else None,
            email_confirmed=user.email_confirmed_at is not None,
            day=(now or utcnow()).date(),
        )

    @cached_property
    def member(self) -> bool:
        """A paid membership covers today (one query, asked only for a members-only offer)."""
        return bool(self.verified and self.user and has_active_membership(self.user, on=self.day))

    @property
    def is_visitor(self) -> bool:
        return self.user is None

    @property
    def kind(self) -> tuple[str, ...]:
        """What the readings of offers this reader has not redeemed depend on: readers of the
        same kind see the same cards (the dates on them in the reader's time zone aside)."""
        if self.user is None:
            return ("visitor",)
        if not self.verified:
            return ("unverified",)
        return ("member" if self.member else "verified", self.country or "")


def redeemed_by(user_id: int) -> str:
    """The cache's name of one member's redemptions (its version moves when they redeem)."""
    return f"redemptions-of-user:{user_id}"


# A member's redeemed offers, kept until they redeem again (their version moves then).
REDEEMED_CACHE_SECONDS = 3600
REDEEMED_FACT = "redeemed_offer_ids"


def load_redeemed_offer_ids(user_id: int) -> frozenset[int]:
    """The offers the user ever redeemed (one query)."""
    return frozenset(
        db.session.scalars(
            select(Redemption.offer_id).where(Redemption.user_id == user_id).distinct()
        )
    )


def redeemed_offer_ids(user: User) -> frozenset[int]:
    """The offers the user ever redeemed: kept with their cached row (``offers.init_app``
    registers it), else one query cached until their next redemption."""
    known = reader_fact(user, REDEEMED_FACT)
    if known is not MISSING:
        return known
    return cache_module.cached(
        "redeemed-offers",
        (redeemed_by(user.id),),
        (user.id,),
        lambda: load_redeemed_offer_ids(user.id),
        timeout=REDEEMED_CACHE_SECONDS,
    )


def has_redeemed_any(user: User, offer_ids: Iterable[int]) -> bool:
    """Whether the user redeemed one of these offers."""
    return not redeemed_offer_ids(user).isdisjoint(offer_ids)


@dataclass(frozen=True)
class OfferReading:
    """The reader's state for one offer, with what the page shows beside it."""

    state: ReaderState
    # The reader's latest redemption of the offer (their code, pass or link), if any.
    redemption: Redemption | None = None
    # How many times the reader used the offer in the current period, and the limit.
    used: int = 0
    # When a periodic limit lets the reader redeem again (None: never, or not limited).
    next_allowed_at: datetime | None = None
    # The reader's redemptions of the offer, newest first.
    redemptions: list[Redemption] = field(default_factory=list)


def period_key(period: LimitPeriod, now: datetime) -> str:
    """The per-member counting period of ``now``: "ever", "2026-W48" or "2026-11" (UTC)."""
    now = now.astimezone(UTC)
    if period == LimitPeriod.WEEK:
        year, week, _weekday = now.isocalendar()
        return f"{year}-W{week:02d}"
    if period == LimitPeriod.MONTH:
        return f"{now.year}-{now.month:02d}"
    return "ever"


def next_period_start(period: LimitPeriod, now: datetime) -> datetime | None:
    """When the counting period after the one of ``now`` begins (None for "ever")."""
    now = now.astimezone(UTC)
    if period == LimitPeriod.WEEK:
        monday = now.date() - timedelta(days=now.weekday()) + timedelta(days=7)
        return datetime.combine(monday, time.min, tzinfo=UTC)
    if period == LimitPeriod.MONTH:
        year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
        return datetime(year, month, 1, tzinfo=UTC)
    return None


def is_sold_out(offer: Offer) -> bool:
    """The total limit is reached, or the pool of unique codes is empty (no query: the pool's
    emptiness is recorded when its last code goes, and cleared when codes are added)."""
    if offer.total_limit is not None and offer.redeemed_count >= offer.total_limit:
        return True
    return (
        offer.redemption_method == RedemptionMethod.UNIQUE_CODES
        and offer.sold_out_notified_at is not None
    )


def is_outside_countries(offer: Offer, country: str | None) -> bool:
    """The offer is limited to some countries and ``country`` is not one of them."""
    countries = offer.countries
    return bool(countries) and (country or "").upper() not in countries


def _benefit_is_live(redemption: Redemption, now: datetime) -> bool:
    """The code, pass or link of ``redemption`` can still be used."""
    if redemption.validated_at is not None:
        return False
    return redemption.expires_at is None or redemption.expires_at > now


def _redemptions_by_offer(offer_ids: list[int], user_id: int) -> dict[int, list[Redemption]]:
    """The reader's redemptions of these offers, newest first, in one query."""
    found: dict[int, list[Redemption]] = defaultdict(list)
    if not offer_ids:
        return found
    rows = db.session.scalars(
        select(Redemption)
        .where(Redemption.user_id == user_id, Redemption.offer_id.in_(offer_ids))
        .order_by(Redemption.redeemed_at.desc(), Redemption.id.desc())
    )
    for row in rows:
        found[row.offer_id].append(row)
    return found


def read_offers(
    offers: list[Offer],
    reader: Reader,
    *,
    now: datetime | None = None,
    without_redemptions: bool = False,
) -> dict[int, OfferReading]:
    """Each offer's reading for ``reader``: one query for a signed-in reader who redeemed one
    of them, none otherwise (nor when ``without_redemptions``: the readings of a reader who
    redeemed none of them)."""
    now = now or utcnow()
    ids = [offer.id for offer in offers]
    by_offer = (
        _redemptions_by_offer(ids, reader.user.id)
        if reader.user is not None
        and not without_redemptions
        and has_redeemed_any(reader.user, ids)  # cached: no query for a newcomer
        else {}
    )
    return {offer.id: _read(offer, reader, by_offer.get(offer.id, []), now) for offer in offers}


def read_offer(offer: Offer, reader: Reader, *, now: datetime | None = None) -> OfferReading:
    """One offer's reading for ``reader``."""
    return read_offers([offer], reader, now=now)[offer.id]


def _read(offer: Offer, reader: Reader, mine: list[Redemption], now: datetime) -> OfferReading:
    """The rules, in the order a person needs them: the offer's dates first, then who reads."""
    # Other statuses (a draft under review) read as they will once published: the moderator's
    # preview shows the offer as alumni will see it.
    if offer.status in (OfferStatus.EXPIRED, OfferStatus.ARCHIVED) or (
        offer.ends_at is not None and offer.ends_at <= now
    ):
        return OfferReading(
            ReaderState.ENDED, redemption=mine[0] if mine else None, redemptions=mine
        )
    if offer.starts_at is not None and offer.starts_at > now:
        return OfferReading(ReaderState.NOT_STARTED)
    key = period_key(offer.limit_period, now)
    used = sum(1 for row in mine if row.period_key == key)
    latest = mine[0] if mine else None
    if used >= offer.per_member_limit:
        # The reader holds what they redeemed: their code or pass comes before "sold out".
        state = (
            ReaderState.ALREADY_REDEEMED
            if latest is not None and _benefit_is_live(latest, now)
            else ReaderState.LIMIT_REACHED
        )
        return OfferReading(
            state,
            redemption=latest,
            used=used,
            next_allowed_at=next_period_start(offer.limit_period, now),
            redemptions=mine,
        )
    reading = {"redemption": latest, "used": used, "redemptions": mine}
    if is_sold_out(offer):
        return OfferReading(ReaderState.SOLD_OUT, **reading)
    if reader.is_visitor:
        return OfferReading(ReaderState.SIGN_IN)
    if not reader.verified:
        return OfferReading(ReaderState.PENDING_VERIFICATION, **reading)
    if is_outside_countries(offer, reader.country):
        return OfferReading(ReaderState.NOT_IN_COUNTRY, **reading)
    if offer.audience == Audience.MEMBERS and not reader.member:
        return OfferReading(ReaderState.MEMBERS_ONLY, **reading)
    return OfferReading(ReaderState.CAN_REDEEM, **reading)

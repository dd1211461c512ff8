"""Paid featured placement of an offer: listed first (``Offer.featured_until``) for N days.

A FEATURED payment's subject is ``{"plan": code, "offer_id": id, "days": n}``. Its fulfilment runs
once, in the transaction that marks the payment succeeded (marketplace/payments/services.py):
the placement starts when the offer's current one ends (buying again extends) and the unique
``featured_placements.payment_id`` makes a second fulfilment impossible. A full refund gives
the unused days back: the placement ends now and the ones queued after it move up.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select

from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.payments.document_series import ACCOUNTING_ZONE
from marketplace.payments.models import Payment
from offers.models import FeaturedPlacement, Offer

logger = logging.getLogger(__name__)


def is_featured(offer: Offer, *, now: datetime | None = None) -> bool:
    """True while a paid placement runs (``featured_until`` in the future)."""
    return offer.featured_until is not None and offer.featured_until > (now or utcnow())


def _lock_offer(offer_id: int) -> Offer | None:
    query = select(Offer).where(Offer.id == offer_id)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return db.session.scalar(query.execution_options(populate_existing=True))


def fulfil_featured_payment(payment: Payment) -> None:
    """Fulfilment of a FEATURED payment: one placement of ``days`` days, queued after the last."""
    if db.session.scalar(
        select(FeaturedPlacement.id).where(FeaturedPlacement.payment_id == payment.id)
    ):
        return
    subject = payment.subject or {}
    offer_id, days = subject.get("offer_id"), int(subject.get("days") or 0)
    offer = _lock_offer(int(offer_id)) if str(offer_id or "").isdigit() else None
    if offer is None or days < 1 or offer.partner_id != payment.partner_id:
        logger.warning("featured payment %s: no offer %s of its partner", payment.id, offer_id)
        return
    now = utcnow()
    start = max(now, offer.featured_until) if offer.featured_until else now
    placement = FeaturedPlacement(
        offer_id=offer.id,
        payment_id=payment.id,
        starts_at=start,
        ends_at=start + timedelta(days=days),
    )
    db.session.add(placement)
    offer.featured_until = placement.ends_at
    db.session.flush()
    logger.info(
        "offer %s featured %s..%s (payment %s)", offer.id, start, placement.ends_at, payment.id
    )


def reverse_featured_payment(payment: Payment) -> None:
    """Reversal of a fully refunded FEATURED payment: its unused days are taken back."""
    placement = db.session.scalar(
        select(FeaturedPlacement).where(FeaturedPlacement.payment_id == payment.id)
    )
    if placement is None:
        return
    offer = _lock_offer(placement.offer_id)
    now = utcnow()
    cut = max(placement.starts_at, min(placement.ends_at, now))
    unused = placement.ends_at - cut
    if unused <= timedelta(0):
        return
    later = db.session.scalars(
        select(FeaturedPlacement).where(
            FeaturedPlacement.offer_id == placement.offer_id,
            FeaturedPlacement.id != placement.id,
            FeaturedPlacement.starts_at >= placement.ends_at,
        )
    ).all()
    placement.ends_at = cut
    for queued in later:
        queued.starts_at -= unused
        queued.ends_at -= unused
    db.session.flush()
    if offer is not None:
        last = db.session.scalar(
            select(func.max(FeaturedPlacement.ends_at)).where(
                FeaturedPlacement.offer_id == offer.id
            )
        )
        offer.featured_until = last if last is not None and last > now else None
        db.session.flush()
    logger.info("featured placement %s ended: payment %s refunded", placement.id, payment.id)


def placement_paid_for(payment: Payment) -> tuple[date, date] | None:
    """The days a FEATURED payment bought (printed on its invoice), in the accounting zone:
    (first day, day after the last). A placement ends at an instant (the site says "featured
    until <date, time>"): the day of that instant is its last day, unless it is midnight."""
    placement = db.session.scalar(
        select(FeaturedPlacement).where(FeaturedPlacement.payment_id == payment.id)
    )
    if placement is None:
        return None
    last_instant = placement.ends_at - timedelta(microseconds=1)
    return (
        placement.starts_at.astimezone(ACCOUNTING_ZONE).date(),
        last_instant.astimezone(ACCOUNTING_ZONE).date() + timedelta(days=1),
    )


def placement_designation(payment: Payment) -> str:
    """What a FEATURED payment bought, in the document's language (called under it)."""
    subject = payment.subject or {}
    offer_id = subject.get("offer_id")
    offer = db.session.get(Offer, int(offer_id)) if str(offer_id or "").isdigit() else None
    title = offer.title if offer is not None else f"#{offer_id}"
    return _(
        "Featured placement of the offer \u201c%(title)s\u201d (%(days)s days)",
        title=title,
        days=int(subject.get("days") or 0),
    )

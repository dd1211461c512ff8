"""What the offers package lends the partners package, which never imports offers: the
featured offers of the billing pages (``partners.billing.FeaturedOffers``) and the check that
keeps a pending partner with offers (``partners.tasks``). Registered by ``offers.init_app``.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, exists, select

from marketplace.errors import NotFound
from marketplace.extensions import db
from marketplace.payments.models import Payment, PaymentKind
from offers.models import FeaturedPlacement, Offer, OfferStatus
from partners.models import Partner


def featurable_offer_or_404(partner: Partner, offer_id: int) -> Offer:
    """The partner's own published offer; any other id (or state) answers 404."""
    offer = db.session.scalar(
        select(Offer).where(
            Offer.id == offer_id,
            Offer.partner_id == partner.id,
            Offer.status == OfferStatus.PUBLISHED,
        )
    )
    if offer is None:
        raise NotFound(_("This offer cannot be featured."))
    return offer


def placements_of(partner: Partner) -> list[tuple[FeaturedPlacement, Offer]]:
    """The featured placements of the partner's offers with their offer, latest first."""
    rows = db.session.execute(
        select(FeaturedPlacement, Offer)
        .join(Offer, Offer.id == FeaturedPlacement.offer_id)
        .where(Offer.partner_id == partner.id)
        .order_by(FeaturedPlacement.ends_at.desc(), FeaturedPlacement.id.desc())
    ).all()
    return [(placement, offer) for placement, offer in rows]


def published_offers_of(partner: Partner) -> Sequence[Offer]:
    """The partner's published offers, the ones that can be featured."""
    return db.session.scalars(
        select(Offer)
        .where(Offer.partner_id == partner.id, Offer.status == OfferStatus.PUBLISHED)
        .order_by(Offer.published_at.desc(), Offer.id.desc())
    ).all()


def offers_of_payments(payments: Sequence[Payment]) -> dict[int, Offer]:
    """The offers that FEATURED payments were for, by id (one query)."""
    ids = {
        int(payment.subject["offer_id"])
        for payment in payments
        if payment.kind == PaymentKind.FEATURED
        and str((payment.subject or {}).get("offer_id", "")).isdigit()
    }
    if not ids:
        return {}
    return {offer.id: offer for offer in db.session.scalars(select(Offer).where(Offer.id.in_(ids)))}


def partner_has_offers() -> ColumnElement[bool]:
    """True for a partner with offers: its history stays, the partner is never deleted."""
    return exists().where(Offer.partner_id == Partner.id)

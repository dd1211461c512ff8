"""Loading an offer for its reader: one loader, the reader's rules as arguments.

Every offer route loads through ``get_offer_or_404``: a partner sees only its own offers
(another partner's is a 404, never a 403), the public only published or ended ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask_smorest import abort
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from marketplace.extensions import db
from offers.models import Offer, OfferStatus
from offers.search import ENDED_STATUSES

if TYPE_CHECKING:
    from partners.models import Partner


def get_offer_or_404(
    offer_id: int, *, partner: Partner | None = None, published: bool = False
) -> Offer:
    """The offer as its reader may see it: ``partner``'s own, or ``published`` (live or ended).

    Partner and category come with it (one query); a published offer also brings its countries.
    """
    query = (
        select(Offer)
        .where(Offer.id == offer_id)
        .options(joinedload(Offer.partner), joinedload(Offer.category))
    )
    if partner is not None:
        query = query.where(Offer.partner_id == partner.id)
    if published:
        query = query.where(
            or_(Offer.status == OfferStatus.PUBLISHED, Offer.status.in_(ENDED_STATUSES))
        ).options(selectinload(Offer.country_rows))
    offer = db.session.scalar(query)
    if offer is None:
        abort(404, message="No such offer.")
    return offer

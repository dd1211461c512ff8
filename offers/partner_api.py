"""Partner offers API: ``/partner/offers...`` serves a partner's team.

Bearer token; another partner's offer is a 404. The moderators' decisions are in
``offers/moderation_api.py``.
"""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest.pagination import PaginationParameters
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from marketplace.api import Blueprint
from marketplace.extensions import db
from offers import code_pool, services
from offers.access import get_offer_or_404
from offers.models import Offer
from offers.schemas import (
    CodesInputSchema,
    CodesResultSchema,
    OfferInputSchema,
    PartnerOfferSchema,
)
from partners.access import current_partner, partner_required

bp = Blueprint("partner_offers_api", __name__, url_prefix="", description="Partner offers")

MAX_PAGE_SIZE = 100
PARTNER = partner_required()
PARTNER_ERRORS = (
    (401, "Not signed in (send a bearer token)."),
    (403, "Not a representative of an approved partner."),
)
OFFER_ERRORS = (
    (404, "No such offer among the partner's."),
    (409, "The offer's status does not allow this."),
    (422, "Invalid or incomplete offer."),
)


def documented(*answers: tuple[int, str]) -> Any:
    """Bearer security and the error answers of an endpoint."""

    def decorate(view: Any) -> Any:
        for status, description in answers:
            view = bp.alt_response(status, description=description)(view)
        return bp.doc(security=[{"bearer": []}])(view)

    return decorate


# ---------------------------------------------------------------- partner


@bp.get("/partner/offers")
@PARTNER
@documented(*PARTNER_ERRORS)
@bp.response(200, PartnerOfferSchema(many=True))
@bp.paginate(page_size=20, max_page_size=MAX_PAGE_SIZE)
def list_partner_offers(pagination_parameters: PaginationParameters) -> list[Offer]:
    """The caller's partner's offers, newest first."""
    page = db.paginate(
        select(Offer)
        .where(Offer.partner_id == current_partner().id)
        .options(joinedload(Offer.partner), joinedload(Offer.category))
        .order_by(Offer.created_at.desc(), Offer.id.desc()),
        page=pagination_parameters.page,
        per_page=pagination_parameters.page_size,
        error_out=False,
    )
    pagination_parameters.item_count = page.total or 0
    return list(page.items)


@bp.post("/partner/offers")
@PARTNER
@documented(*PARTNER_ERRORS, (422, "Invalid offer."))
@bp.arguments(OfferInputSchema)
@bp.response(201, PartnerOfferSchema)
def create_partner_offer(data: dict[str, Any]) -> Offer:
    """Create a draft offer (submit it for review with ``/submit``)."""
    offer = services.create_offer(current_partner(), actor=current_user, data=data)
    db.session.commit()
    return offer


@bp.get("/partner/offers/<int:offer_id>")
@PARTNER
@documented(*PARTNER_ERRORS, OFFER_ERRORS[0])
@bp.response(200, PartnerOfferSchema)
def get_partner_offer(offer_id: int) -> Offer:
    """One of the partner's offers, with its pending changes."""
    return get_offer_or_404(offer_id, partner=current_partner())


@bp.patch("/partner/offers/<int:offer_id>")
@PARTNER
@documented(*PARTNER_ERRORS, *OFFER_ERRORS)
@bp.arguments(OfferInputSchema)
@bp.response(200, PartnerOfferSchema)
def update_partner_offer(data: dict[str, Any], offer_id: int) -> Offer:
    """Edit an offer; on a live offer the changes wait for review in ``pending_changes``."""
    offer = get_offer_or_404(offer_id, partner=current_partner())
    services.update_offer(offer, actor=current_user, data=data)
    db.session.commit()
    return offer


@bp.post("/partner/offers/<int:offer_id>/submit")
@PARTNER
@documented(*PARTNER_ERRORS, *OFFER_ERRORS)
@bp.response(200, PartnerOfferSchema)
def submit_partner_offer(offer_id: int) -> Offer:
    """Send a draft (or an offer sent back) to the moderators."""
    offer = get_offer_or_404(offer_id, partner=current_partner())
    services.submit_offer(offer, actor=current_user)
    db.session.commit()
    return offer


@bp.post("/partner/offers/<int:offer_id>/codes")
@PARTNER
@documented(*PARTNER_ERRORS, *OFFER_ERRORS)
@bp.arguments(CodesInputSchema)
@bp.response(201, CodesResultSchema)
def add_partner_offer_codes(data: dict[str, Any], offer_id: int) -> dict[str, int]:
    """Add codes to the offer's pool; blanks and duplicates are skipped and counted."""
    offer = get_offer_or_404(offer_id, partner=current_partner())
    added, duplicates = code_pool.add_codes(offer, actor=current_user, codes=data["codes"])
    db.session.commit()
    return {"added": added, "duplicates": duplicates}

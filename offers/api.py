"""Public offers API: GET /api/v1/offers (search, filters, pages) and GET /api/v1/offers/{id}.

Anyone may call it; it never returns a code or a partner link (``PublicOfferSchema`` has no
such field), whoever asks.
"""

from __future__ import annotations

from typing import Any

from flask import abort
from flask_babel import gettext as _
from flask_smorest.pagination import PaginationParameters

from marketplace.api import Blueprint, api_caller
from offers import search
from offers.access import get_offer_or_404
from offers.models import Offer
from offers.reader_state import Reader, read_offer
from offers.schemas import OfferQuerySchema, PublicOfferSchema, ReadOfferSchema

bp = Blueprint("offers_api", __name__, url_prefix="/offers", description="Offers")

MAX_PAGE_SIZE = 100


def _filters(args: dict[str, Any]) -> search.OfferFilters:
    return search.OfferFilters(
        q=args["q"].strip(),
        category=args["category"].strip(),
        country=args["country"].strip().upper(),
        city=args["city"].strip(),
        online=args["online"],
        partner=args["partner"].strip(),
        sort=search.Sort(args["sort"]) if args["sort"] else None,
    )


@bp.get("")
@bp.arguments(OfferQuerySchema, location="query")
@bp.response(200, PublicOfferSchema(many=True))
@bp.paginate(page_size=20, max_page_size=MAX_PAGE_SIZE)
def list_offers(args: dict[str, Any], pagination_parameters: PaginationParameters) -> list[Offer]:
    """Published offers valid now, searched and filtered; newest first, or by relevance."""
    page = search.find_offers(
        _filters(args),
        page=pagination_parameters.page,
        per_page=pagination_parameters.page_size,
        count_cap=None,
    )
    pagination_parameters.item_count = page.total
    return page.items


@bp.get("/<int:offer_id>")
@bp.response(200, ReadOfferSchema)
@bp.alt_response(404, description="No such published offer.")
@bp.alt_response(410, description="The offer has ended.")
def get_offer(offer_id: int) -> Offer:
    """One published offer (one not started yet too); an ended one answers 410 Gone.

    With a bearer token (or a browser session), ``reader_state`` says what the caller can do
    with it, as the offer page does.
    """
    offer = get_offer_or_404(offer_id, published=True)
    if search.offer_state(offer) == "ended":
        abort(410, description=_("This offer has ended."))
    caller = api_caller()
    if caller is not None:
        # Not a column: what ReadOfferSchema dumps for this caller alone.
        offer.reader_state = read_offer(offer, Reader.load(caller)).state.value
    return offer

"""Public offer pages: listing with search and filters, the offer page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from marketplace.cache import cached, ignore_writes_to
from marketplace.catalog.models import Category
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.routing import page_arg
from offers import analytics_views, moderation, portal, search, wallet
from offers.markdown import render_markdown
from offers.models import Audience

bp = Blueprint("offers", __name__, url_prefix="/offers")
bp.register_blueprint(portal.bp)
bp.register_blueprint(moderation.bp)
bp.register_blueprint(wallet.bp)
bp.register_blueprint(analytics_views.bp)

REDEEM_ENDPOINT = "offers.wallet.redeem"


def _reader_is_verified() -> bool:
    return bool(current_user.is_authenticated and current_user.is_verified_alumnus)


@bp.app_template_global()
def latest_offers(limit: int = 3) -> list:
    """The newest live offers (the home page shows a few)."""
    return search.latest_offers(limit)


# What a listing is computed from: a committed write to one of these tables renders it afresh.
LISTING_TABLES = (
    "offers",
    "offer_countries",
    "partners",
    "categories",
    "partner_plan_periods",
    "featured_placements",
)
# Offers start, end and stop being featured with the clock, not with a write: a cached
# listing lives at most this long.
LISTING_CACHE_SECONDS = 60
# A redemption moves an offer's counters; a listing shows none of them (only the "most
# redeemed" order uses one, and may lag by LISTING_CACHE_SECONDS), so redemptions keep the
# cached listings.
ignore_writes_to(
    "offers", ("redeemed_count", "updated_at", "low_stock_notified_at", "sold_out_notified_at")
)


def _results(filters: search.OfferFilters, page_number: int, can_redeem: bool) -> Markup:
    page = search.find_offers(filters, page=page_number, count_cap=search.COUNT_CAP)
    if page_number > 1 and not page.items and page.pages:
        page = search.find_offers(filters, page=page.pages, count_cap=search.COUNT_CAP)
    return Markup(  # noqa: S704 - the output of an autoescaping Jinja template
        render_template(
            "offers/_results.html",
            page=page,
            args=filters.as_args(),
            can_redeem=can_redeem,
            MEMBERS=Audience.MEMBERS,
        )
    )


@bp.get("/")
def index():
    filters = search.OfferFilters.from_args(request.args)
    page_number = page_arg()
    can_redeem = _reader_is_verified()
    key = (str(get_locale()), can_redeem, page_number, *sorted(filters.as_args().items()))
    results = cached(
        "offer-results",
        LISTING_TABLES,
        key,
        lambda: _results(filters, page_number, can_redeem),
        timeout=LISTING_CACHE_SECONDS,
    )
    categories = db.session.scalars(select(Category).order_by(Category.position, Category.slug))
    return render_template(
        "offers/index.html",
        results=results,
        filters=filters,
        args=filters.as_args(),
        categories=list(categories),
        sorts=search.Sort,
        can_redeem=can_redeem,
        MEMBERS=Audience.MEMBERS,
    )


@bp.get("/<int:offer_id>")
def detail(offer_id: int):
    offer = search.get_public_offer(offer_id)
    if offer is None:
        abort(404)
    state = search.offer_state(offer)
    if state == "upcoming":
        abort(404)
    # Rendered before the commit below, which would expire the loaded offer and reload it.
    page = render_template(
        "offers/detail.html",
        offer=offer,
        ended=state == "ended",
        description=render_markdown(offer.description),
        can_redeem=_reader_is_verified(),
        redeem_available=REDEEM_ENDPOINT in current_app.view_functions,
        redeem_endpoint=REDEEM_ENDPOINT,
        MEMBERS=Audience.MEMBERS,
    )
    if state == "live":
        # Analytics: one view more for today. Only a live offer counts, so a GET of a missing,
        # hidden or ended offer changes nothing (tests/test_permissions.py compares row counts
        # before and after its GETs, and asks for an id that does not exist).
        search.count_offer_view(offer_id=offer.id, day=utcnow().date())
        db.session.commit()
    return page

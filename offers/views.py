"""Public offer pages: listing with search and filters, the offer page."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

from flask import Blueprint, abort, render_template, request, send_file, url_for
from flask_babel import get_locale, get_timezone
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from marketplace import page_cache, reader_pages
from marketplace.cache import cached
from marketplace.catalog.models import Category
from marketplace.extensions import db
from marketplace.markdown import render_markdown
from marketplace.membership.services import offered_tiers
from marketplace.money import format_money
from marketplace.routing import page_arg
from offers import (
    analytics_views,
    moderation_views,
    pictures,
    portal_views,
    reader_state,
    search,
    view_counts,
    wallet_views,
)
from offers.access import get_offer_or_404
from offers.models import Audience
from offers.redemption import not_in_country_message

bp = Blueprint("offers", __name__, url_prefix="/offers")
bp.register_blueprint(portal_views.bp)
bp.register_blueprint(moderation_views.bp)
bp.register_blueprint(wallet_views.bp)
bp.register_blueprint(analytics_views.bp)

REDEEM_ENDPOINT = "offers.wallet.redeem"


@bp.app_template_global()
def partner_logo_url(partner) -> str:
    """The logo's address, named after the stored file: a new logo is a new address, so the
    logo route may let browsers keep it for a year."""
    return url_for("partners.logo", partner_id=partner.id, v=partner.logo_filename.split(".")[0])


@bp.app_template_filter()
def initials(name: str) -> str:
    """Up to two initials of a name, for a placeholder ("Librairie Voltaire" → "LV")."""
    return "".join(word[0] for word in (name or "").split() if word[:1].isalnum())[:2].upper()


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


class Results(NamedTuple):
    """A listing's rendered results and the offers on it."""

    offer_ids: tuple[int, ...]
    html: Markup


def _results(
    filters: search.OfferFilters,
    page_number: int,
    reader: reader_state.Reader,
    *,
    shared: bool = False,
) -> Results:
    """The rendered results; ``shared``: as every reader of ``reader``'s kind who redeemed
    none of the offers on the page sees them."""
    page = search.find_offers(filters, page=page_number, count_cap=search.COUNT_CAP)
    if page_number > 1 and not page.items and page.pages:
        page = search.find_offers(filters, page=page.pages, count_cap=search.COUNT_CAP)
    suggestion = search.suggest_query(filters) if not page.items and filters.q else None
    if suggestion:
        # Nothing matched what was typed: show what its closest spelling finds.
        filters = replace(filters, q=suggestion)
        page = search.find_offers(filters, count_cap=search.COUNT_CAP)
    html = Markup(  # noqa: S704 - the output of an autoescaping Jinja template
        render_template(
            "offers/_results.html",
            page=page,
            args=filters.as_args(),
            readings=reader_state.read_offers(page.items, reader, without_redemptions=shared),
            suggestion=suggestion,
            States=reader_state.ReaderState,
            MEMBERS=Audience.MEMBERS,
        )
    )
    return Results(tuple(offer.id for offer in page.items), html)


def _shared_results(
    filters: search.OfferFilters, page_number: int, reader: reader_state.Reader
) -> Markup:
    """The results, rendered once per language, time zone, search, page and reader kind.

    Visitors all share one rendering; a signed-in reader shares the one of their kind (see
    ``Reader.kind``) unless they redeemed an offer on the page, whose card then shows their
    code or limit: one query tells, and only then are the results rendered for them alone.
    """
    key = (
        str(get_locale()),
        str(get_timezone()),
        *reader.kind,
        page_number,
        *sorted(filters.as_args().items()),
    )
    results = cached(
        "offer-results",
        LISTING_TABLES,
        key,
        lambda: _results(filters, page_number, reader, shared=True),
        timeout=LISTING_CACHE_SECONDS,
    )
    reader_pages.shows_offers(results.offer_ids)
    if reader.user is not None and reader_state.has_redeemed_any(reader.user, results.offer_ids):
        reader_pages.personal_rendering()
        results = _results(filters, page_number, reader)
    return results.html


@dataclass(frozen=True)
class CategoryChoice:
    """A category of the filter: its slug and its name in the reader's language."""

    slug: str
    name: str


def category_choices() -> list[CategoryChoice]:
    """The categories of the filter, cached per language until one changes."""
    return cached(
        "category-choices",
        ("categories",),
        (str(get_locale()),),
        lambda: [
            CategoryChoice(row.slug, row.name)
            for row in db.session.scalars(
                select(Category).order_by(Category.position, Category.slug)
            )
        ],
    )


def _reader() -> reader_state.Reader:
    return reader_state.Reader.load(current_user)


def _reader_kind() -> tuple[object, ...]:
    """What an offer page depends on about its signed-in reader (``reader_pages``)."""
    reader = _reader()
    return (
        reader.verified,
        reader.country or "",
        str(reader.verification or ""),
        reader.email_confirmed,
        reader.verified and reader.member,
    )


def _redeemed_any(offer_ids: tuple[int, ...]) -> bool:
    return reader_state.has_redeemed_any(current_user, offer_ids)


# Signed-in readers of one kind share a rendering of these pages (marketplace/reader_pages.py).
def _own_versions() -> tuple[str, ...]:
    """What a reader's own rendering also depends on: their redemptions (and their states)."""
    return (reader_state.redeemed_by(current_user.id), "redemptions")


reader_page = reader_pages.reader_page(
    page_cache.PAGE_TABLES,
    signature=_reader_kind,
    personal=_redeemed_any,
    own_versions=_own_versions,
)


@bp.get("/")
@reader_page
def index():
    reader = _reader()
    filters = search.OfferFilters.from_args(request.args)
    # What the reader can use comes first: their country and worldwide, until they choose.
    default_country = bool(reader.country and "country" not in request.args)
    if default_country:
        filters = replace(filters, country=reader.country)
    page_number = page_arg()
    results = _shared_results(filters, page_number, reader)
    return render_template(
        "offers/index.html",
        results=results,
        filters=filters,
        args=filters.as_args(),
        categories=category_choices(),
        sorts=search.Sort,
        default_country=default_country,
        all_countries_args={**filters.as_args(), "country": ""},
        MEMBERS=Audience.MEMBERS,
    )


def membership_price() -> str | None:
    """The lowest yearly membership price on offer, formatted for the reader."""
    tiers = offered_tiers()
    if not tiers:
        return None
    cheapest = min(tiers, key=lambda tier: tier.amount)
    return format_money(cheapest.amount, cheapest.currency)


# A picture's address names its content (a new picture gets new files): cached for a year.
PICTURE_CACHE_SECONDS = 365 * 24 * 3600


@bp.get("/pictures/<name>")
def picture(name: str):
    """A stored width of an offer's picture: its address changes with the picture, so it is
    cached for a year."""
    path = pictures.picture_path(name)
    if path is None or not path.is_file():
        abort(404)
    response = send_file(path, mimetype="image/webp", max_age=PICTURE_CACHE_SECONDS)
    response.cache_control.immutable = True
    response.cache_control.public = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/<int:offer_id>")
@reader_page
def detail(offer_id: int):
    offer = get_offer_or_404(offer_id, published=True)
    state = search.offer_state(offer)
    reader = _reader()
    reader_pages.shows_offers((offer.id,))
    reading = reader_state.read_offer(offer, reader)
    page = render_template(
        "offers/detail.html",
        offer=offer,
        ended=state == "ended",
        description=render_markdown(offer.description),
        reader=reader,
        reading=reading,
        States=reader_state.ReaderState,
        membership_price=(
            membership_price() if reading.state == reader_state.ReaderState.MEMBERS_ONLY else None
        ),
        not_in_country_message=(
            not_in_country_message(offer, reader.country)
            if reading.state == reader_state.ReaderState.NOT_IN_COUNTRY
            else None
        ),
        redeem_endpoint=REDEEM_ENDPOINT,
        MEMBERS=Audience.MEMBERS,
    )
    if state == "live":
        # Analytics: one view more for today, counted without a write (offers.view_counts),
        # also when a visitor is served this page from the page cache. Only a live offer
        # counts, so a GET of a missing, hidden or ended offer changes nothing.
        view_counts.record(offer.id)
        page_cache.when_served("offer-view", offer.id)
    return page

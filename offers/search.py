"""Finding published offers: filters, sorting, and the listing queries.

Full-text search is the core's (``marketplace.fulltext``) on the search objects of
``offers`` created by migration ``5f3c2a9d1b7e``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields, replace
from datetime import date, datetime

from sqlalchemy import (
    Select,
    and_,
    case,
    exists,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import contains_eager, defer, selectinload
from sqlalchemy.sql.elements import ColumnElement

from marketplace.catalog.models import Category
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.fulltext import FullTextIndex, query_words
from marketplace.spelling import corrected_words
from offers.models import Offer, OfferCountry, OfferDailyStat, OfferStatus
from partners.models import Partner

# Objects created by the search migration outside the models; autogenerate must skip them.
FULL_TEXT = FullTextIndex("offers")
FTS_TABLE_PREFIX = FULL_TEXT.fts_table
is_search_object = FULL_TEXT.is_search_object

PAGE_SIZE = 20
# Statuses whose page stays reachable and says the offer has ended.
ENDED_STATUSES = frozenset({OfferStatus.EXPIRED, OfferStatus.ARCHIVED})


class Sort(enum.StrEnum):
    """The orders a listing can be sorted in."""

    RELEVANCE = "relevance"
    NEWEST = "newest"
    ENDING = "ending"
    POPULAR = "popular"


@dataclass(frozen=True)
class OfferFilters:
    """What a reader asked the listing (page or API) for; empty values mean no filter."""

    q: str = ""
    category: str = ""
    country: str = ""
    city: str = ""
    online: bool | None = None
    partner: str = ""
    sort: Sort | None = None

    @classmethod
    def from_args(cls, args) -> OfferFilters:
        """Read the filters from a query string, ignoring values that make no sense."""
        online_arg = (args.get("online") or "").strip().lower()
        online = {"1": True, "true": True, "yes": True, "0": False, "false": False}.get(online_arg)
        sort_arg = (args.get("sort") or "").strip()
        return cls(
            q=(args.get("q") or "").strip()[:200],
            category=(args.get("category") or "").strip()[:60],
            country=(args.get("country") or "").strip().upper()[:2],
            city=(args.get("city") or "").strip()[:120],
            online=online,
            partner=(args.get("partner") or "").strip()[:180],
            sort=Sort(sort_arg) if sort_arg in Sort.__members__.values() else None,
        )

    @property
    def effective_sort(self) -> Sort:
        """Relevance needs words to rank by; without them the default is newest first."""
        has_words = bool(query_words(self.q))
        if self.sort is None or (self.sort == Sort.RELEVANCE and not has_words):
            return Sort.RELEVANCE if has_words else Sort.NEWEST
        return self.sort

    def as_args(self) -> dict[str, str]:
        """The non-empty filters as query-string values (for links that keep them)."""
        values: dict[str, str] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if value is None or value == "":
                continue
            if field.name == "online":
                value = "1" if value else "0"
            values[field.name] = str(value)
        return values


def _live(now: datetime) -> ColumnElement[bool]:
    """Published and within its dates."""
    return and_(
        Offer.status == OfferStatus.PUBLISHED,
        or_(Offer.starts_at.is_(None), Offer.starts_at <= now),
        or_(Offer.ends_at.is_(None), Offer.ends_at > now),
    )


def _matching(
    filters: OfferFilters, now: datetime, *, columns: tuple = (Offer,)
) -> tuple[Select, ColumnElement | None]:
    """The live offers matching ``filters`` (unordered) and the text rank, if a query was typed."""
    statement = select(*columns).join(Offer.partner).outerjoin(Offer.category).where(_live(now))
    rank = None
    if query_words(filters.q):
        condition, rank = FULL_TEXT.match(Offer.id, filters.q)
        statement = statement.where(condition)
    elif filters.q:
        # Only punctuation was typed: nothing can match.
        statement = statement.where(literal_column("1") == 0)
    if filters.category:
        statement = statement.where(Category.slug == filters.category)
    if filters.country:
        has_country = exists().where(
            OfferCountry.offer_id == Offer.id, OfferCountry.country == filters.country
        )
        # OFFSET 0 keeps PostgreSQL from turning "no country row" into an anti-join that reads
        # every country row; checked per offer through the (offer_id, country) index instead.
        any_country = select(OfferCountry.id).where(OfferCountry.offer_id == Offer.id).offset(0)
        statement = statement.where(or_(has_country, ~any_country.exists()))
    if filters.city:
        statement = statement.where(func.lower(Offer.city) == filters.city.lower())
    if filters.online is not None:
        statement = statement.where(Offer.online.is_(filters.online))
    if filters.partner:
        if filters.partner.isdigit():
            statement = statement.where(Offer.partner_id == int(filters.partner))
        else:
            statement = statement.where(Partner.slug == filters.partner)
    return statement, rank


def search_offers(filters: OfferFilters, *, now: datetime | None = None) -> Select:
    """The live offers matching ``filters``, featured first then in the asked order, with
    partner, category and countries eager-loaded. For whole result sets (saved-search alerts);
    pages of results come from ``find_offers``, which the indexes serve."""
    now = now or utcnow()
    statement, rank = _matching(filters, now)
    statement = statement.options(
        contains_eager(Offer.partner),
        contains_eager(Offer.category),
        selectinload(Offer.country_rows),
    )
    # Paid featured placements come first, in every sort order (offers/featured.py).
    featured_first = case((Offer.featured_until > now, 0), else_=1)
    return statement.order_by(featured_first, *_ordering(filters.effective_sort, rank))


# Beyond this many results, a listing says "more than 1,000" instead of counting them all:
# the count then reads at most this many index entries, whatever the size of the catalogue.
COUNT_CAP = 1000
# Long texts a card never shows: not loaded for listings.
CARD_DEFERRED = (
    Offer.description_fr,
    Offer.description_en,
    Offer.search_fr,
    Offer.search_en,
    Offer.pending_changes,
)


@dataclass
class OfferPage:
    """One page of a listing: its offers and how many match (``capped``: more than that)."""

    items: list[Offer]
    page: int
    per_page: int
    total: int
    capped: bool = False

    @property
    def pages(self) -> int:
        return -(-self.total // self.per_page)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def find_offers(
    filters: OfferFilters,
    *,
    page: int = 1,
    per_page: int = PAGE_SIZE,
    now: datetime | None = None,
    count_cap: int | None = COUNT_CAP,
) -> OfferPage:
    """One page of the live offers matching ``filters``: running featured placements first,
    then the others, each in the asked order; five queries whatever the page or the catalogue.

    Featured offers are few (paid placements), so they are listed on their own; the others are
    paged straight off the index of the order (no sort of every live offer), and counted up to
    ``count_cap`` (``None``: an exact count, for the API).
    """
    now = now or utcnow()
    page = max(page, 1)
    matching, rank = _matching(filters, now, columns=(Offer.id,))
    order = _ordering(filters.effective_sort, rank)
    featured_ids = list(
        db.session.scalars(
            matching.where(Offer.featured_until > now).order_by(*order).limit(COUNT_CAP)
        )
    )
    regular = matching.where(
        or_(Offer.featured_until.is_(None), Offer.featured_until <= now)
    ).order_by(*order)
    start = (page - 1) * per_page
    ids = featured_ids[start : start + per_page]
    if len(ids) < per_page:
        offset = max(start - len(featured_ids), 0)
        ids += db.session.scalars(regular.offset(offset).limit(per_page - len(ids)))
    counted = regular if count_cap is None else regular.limit(count_cap + 1)
    total = len(featured_ids) + (
        db.session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    )
    capped = count_cap is not None and total > count_cap
    if capped:
        total = count_cap + 1  # the featured ones may have pushed it further: still "more than"
    return OfferPage(_load_cards(ids), page, per_page, total, capped)


def _load_cards(ids: list[int]) -> list[Offer]:
    """The offers of ``ids`` in that order, with what a card shows (two queries)."""
    if not ids:
        return []
    offers = db.session.scalars(
        select(Offer)
        .join(Offer.partner)
        .outerjoin(Offer.category)
        .options(
            contains_eager(Offer.partner),
            contains_eager(Offer.category),
            selectinload(Offer.country_rows),
            *[defer(column) for column in CARD_DEFERRED],
        )
        .where(Offer.id.in_(ids))
    ).unique()
    by_id = {offer.id: offer for offer in offers}
    return [by_id[offer_id] for offer_id in ids if offer_id in by_id]


def _ordering(sort: Sort, rank: ColumnElement | None) -> list:
    newest = [Offer.published_at.desc(), Offer.id.desc()]
    if sort == Sort.RELEVANCE and rank is not None:
        return [rank, *newest]
    if sort == Sort.ENDING:
        # Offers without an end date come last.
        return [Offer.ends_at.is_(None), Offer.ends_at.asc(), Offer.id.desc()]
    if sort == Sort.POPULAR:
        return [Offer.redeemed_count.desc(), *newest]
    return newest


def suggest_query(filters: OfferFilters, *, now: datetime | None = None) -> str | None:
    """A spelling of ``filters.q`` that finds live offers when it finds none ("formaton" →
    "formation"), or None: each word the index does not know becomes its closest indexed word
    (``marketplace/spelling.py``), and the result must match at least one live offer."""
    words = corrected_words(FTS_TABLE_PREFIX, query_words(filters.q))
    if words is None:
        return None
    suggestion = " ".join(words)
    matching, _rank = _matching(
        replace(filters, q=suggestion), now or utcnow(), columns=(Offer.id,)
    )
    return suggestion if db.session.scalar(matching.limit(1)) is not None else None


def latest_offers(limit: int = 3) -> list[Offer]:
    """The newest live offers, for the home page."""
    return find_offers(OfferFilters(), per_page=limit, count_cap=0).items


def offer_state(offer: Offer, *, now: datetime | None = None) -> str:
    """``"live"``, ``"ended"`` or ``"upcoming"``, for a published or ended offer."""
    now = now or utcnow()
    if offer.status in ENDED_STATUSES or (offer.ends_at is not None and offer.ends_at <= now):
        return "ended"
    if offer.starts_at is not None and offer.starts_at > now:
        return "upcoming"
    return "live"


def count_offer_view(*, offer_id: int, day: date, views: int = 1) -> None:
    """Add ``views`` views to the offer's statistics of ``day`` (insert or increment,
    atomically). The offer page does not call it per view: ``offers.view_counts`` buffers
    the views and writes them in batches."""
    # ON CONFLICT makes the first-view-of-the-day race harmless on both databases: two
    # concurrent first views both end as one row with views = 2, never a unique violation.
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(OfferDailyStat).values(
        offer_id=offer_id, day=day, views=views, reveals=0, redemptions=0
    )
    statement = statement.on_conflict_do_update(
        index_elements=[OfferDailyStat.offer_id, OfferDailyStat.day],
        set_={"views": OfferDailyStat.views + views},
    )
    db.session.execute(statement)

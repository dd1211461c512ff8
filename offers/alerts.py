"""Saved-search alerts for offers: the offers source of ``marketplace.notifications.alerts``.

Registered by ``offers.init_app``: a member's saved criteria are read
exactly as the listing reads its query string (``OfferFilters``), so an alert holds what
the member would see on ``/offers/`` with the same filters.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from flask_babel import lazy_gettext as _l

from marketplace.extensions import db
from marketplace.i18n import N_
from marketplace.notifications.alerts import AlertItem
from marketplace.routing import absolute_url
from offers.models import Offer
from offers.search import OfferFilters, search_offers

# The listing's filters a search may save (the sort order means nothing to an alert).
CRITERIA = {
    "q": _l("Words"),
    "category": _l("Category"),
    "country": _l("Country"),
    "city": _l("City"),
    "online": _l("Online"),
    "partner": _l("Partner"),
}


def find_offers(criteria: Mapping[str, str], since: datetime, now: datetime) -> list[AlertItem]:
    """Live offers matching ``criteria`` published between ``since`` and ``now``, oldest first."""
    filters = OfferFilters.from_args({name: criteria.get(name, "") for name in CRITERIA})
    statement = (
        search_offers(filters, now=now)
        .where(Offer.published_at >= since, Offer.published_at <= now)
        .order_by(None)
        .order_by(Offer.published_at, Offer.id)
    )
    return [
        AlertItem(
            id=offer.id,
            title=f"{offer.title} — {offer.partner.name}",
            url=absolute_url("offers.detail", offer_id=offer.id),
            summary=offer.summary,
        )
        for offer in db.session.scalars(statement).unique()
    ]


# How the alerts name this kind on pages, and the digest's subject (``register_alert_source``).
LABEL = _l("Offers")
SUBJECT = N_("New offers for your saved search (%(count)d)")

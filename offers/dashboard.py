"""The offers' part of the partner dashboard: views, reveals and redemptions of the last 30
days, and the offers waiting for the team (changes asked, pools running out, ending soon)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import func, select

from marketplace.extensions import db
from offers.models import Offer, OfferCode, OfferDailyStat, OfferStatus, RedemptionMethod
from partners.dashboard import DashboardSource, Figure, ToDo
from partners.models import Partner

STATUS_LABELS = {
    OfferStatus.DRAFT: _l("Drafts"),
    OfferStatus.SUBMITTED: _l("Submitted for review"),
    OfferStatus.CHANGES_REQUESTED: _l("Changes requested"),
    OfferStatus.REJECTED: _l("Rejected"),
    OfferStatus.PUBLISHED: _l("Published"),
    OfferStatus.PAUSED: _l("Paused"),
    OfferStatus.EXPIRED: _l("Expired"),
    OfferStatus.ARCHIVED: _l("Archived"),
}

# An offer ending within this many days is worth a look (extend it, or plan the next one).
ENDING_SOON_DAYS = 7
# A pool with this many codes left or fewer needs more.
LOW_POOL = 10


def figures(partner: Partner, since: datetime) -> list[Figure]:
    """Views, reveals and redemptions of the partner's offers since ``since`` (one query)."""
    views, reveals, redemptions = db.session.execute(
        select(
            func.coalesce(func.sum(OfferDailyStat.views), 0),
            func.coalesce(func.sum(OfferDailyStat.reveals), 0),
            func.coalesce(func.sum(OfferDailyStat.redemptions), 0),
        )
        .join(Offer, Offer.id == OfferDailyStat.offer_id)
        .where(Offer.partner_id == partner.id, OfferDailyStat.day >= since.date())
    ).one()
    return [
        Figure("views", _("Offer views"), int(views)),
        Figure("reveals", _("Codes and passes shown"), int(reveals)),
        Figure("redemptions", _("Redemptions"), int(redemptions)),
    ]


def todos(partner: Partner, now: datetime) -> list[ToDo]:
    """The partner's offers that wait for the team, most urgent first."""
    found: list[ToDo] = []
    waiting = db.session.scalars(
        select(Offer)
        .where(
            Offer.partner_id == partner.id,
            Offer.status.in_((OfferStatus.CHANGES_REQUESTED, OfferStatus.REJECTED)),
        )
        .order_by(Offer.updated_at.desc())
    )
    for offer in waiting:
        asked = offer.status == OfferStatus.CHANGES_REQUESTED
        found.append(
            ToDo(
                f"offer-{offer.id}-review",
                _("The moderators asked for changes to “%(title)s”", title=offer.title)
                if asked
                else _("“%(title)s” was not accepted", title=offer.title),
                url_for("offers.portal.detail", offer_id=offer.id),
                offer.moderator_message or offer.refusal_reason or "",
            )
        )
    pools = db.session.execute(
        select(Offer, func.count(OfferCode.id).filter(OfferCode.redemption_id.is_(None)))
        .outerjoin(OfferCode, OfferCode.offer_id == Offer.id)
        .where(
            Offer.partner_id == partner.id,
            Offer.status == OfferStatus.PUBLISHED,
            Offer.redemption_method == RedemptionMethod.UNIQUE_CODES,
        )
        .group_by(Offer.id)
    ).all()
    for offer, left in pools:
        if left <= LOW_POOL:
            found.append(
                ToDo(
                    f"offer-{offer.id}-pool",
                    _("Add codes to “%(title)s”", title=offer.title),
                    url_for("offers.portal.detail", offer_id=offer.id) + "#code-pool",
                    ngettext("%(num)d code left", "%(num)d codes left", left),
                )
            )
    ending = db.session.scalars(
        select(Offer)
        .where(
            Offer.partner_id == partner.id,
            Offer.status == OfferStatus.PUBLISHED,
            Offer.ends_at > now,
            Offer.ends_at <= now + timedelta(days=ENDING_SOON_DAYS),
        )
        .order_by(Offer.ends_at)
    )
    for offer in ending:
        found.append(
            ToDo(
                f"offer-{offer.id}-ending",
                _("“%(title)s” ends soon", title=offer.title),
                url_for("offers.portal.edit", offer_id=offer.id),
                "",
            )
        )
    return found


def counts(partner: Partner) -> list[tuple[OfferStatus, str, int]]:
    """The partner's offers by status, every status listed (the dashboard's "Offers" box)."""
    found = dict(
        db.session.execute(
            select(Offer.status, func.count())
            .where(Offer.partner_id == partner.id)
            .group_by(Offer.status)
        ).all()
    )
    return [(status, label, found.get(status, 0)) for status, label in STATUS_LABELS.items()]


SOURCE = DashboardSource(figures=figures, todos=todos, counts=counts)

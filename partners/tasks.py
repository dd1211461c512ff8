"""Periodic work of the partners, run by ``flask tasks run-due``.

A visitor's application creates an unconfirmed account as the partner's owner; when the
30-day retention deletes that account, its team row goes with it (``ON DELETE CASCADE``) and
the pending application is left without anyone to answer for it. This task removes such
orphaned applications (and their stored logo).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import ColumnElement, exists, select

from marketplace.extensions import db
from partners.models import Partner, PartnerMember, PartnerStatus
from partners.services import delete_logo

logger = logging.getLogger(__name__)

# Each returns an SQL condition true for a partner that has rows of another package (the
# offers package registers ``partner_has_offers``): such a partner is never deleted here.
PARTNER_HISTORY: list[Callable[[], ColumnElement[bool]]] = []


def register_partner_history(keeps: Callable[[], ColumnElement[bool]]) -> None:
    """Keep pending partners for which ``keeps()`` holds out of the orphan purge (once)."""
    if keeps not in PARTNER_HISTORY:
        PARTNER_HISTORY.append(keeps)


def delete_orphan_applications(now: datetime) -> str:
    """Delete pending applications that no longer have any representative; commit."""
    partners = db.session.scalars(
        select(Partner)
        .where(
            Partner.status == PartnerStatus.PENDING,
            ~exists().where(PartnerMember.partner_id == Partner.id),
            # A partner with rows in another package (offers) is never deleted: they stay.
            *[~keeps() for keeps in PARTNER_HISTORY],
        )
        .order_by(Partner.id)
    ).all()
    logos = [partner.logo_filename for partner in partners]
    for partner in partners:
        logger.info("deleting orphaned partner application %s (%s)", partner.id, partner.name)
        db.session.delete(partner)
    db.session.commit()
    # Files go only once the rows are gone for good.
    for filename in logos:
        delete_logo(filename)
    return f"{len(partners)} pending partner application(s) without a representative deleted"

"""Periodic work of the partners, run by ``flask tasks run-due``.

A visitor's application creates an unconfirmed account as the partner's owner; when the
30-day retention deletes that account, its team row goes with it (``ON DELETE CASCADE``) and
the pending application is left without anyone to answer for it. This task removes such
orphaned applications (and their stored logo).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import exists, select

from marketplace.extensions import db
from offers.models import Offer
from partners.models import Partner, PartnerMember, PartnerStatus
from partners.services import delete_logo

logger = logging.getLogger(__name__)


def delete_orphan_applications(now: datetime) -> str:
    """Delete pending applications that no longer have any representative; commit."""
    partners = db.session.scalars(
        select(Partner)
        .where(
            Partner.status == PartnerStatus.PENDING,
            ~exists().where(PartnerMember.partner_id == Partner.id),
            # A partner with offers is never deleted (their history stays).
            ~exists().where(Offer.partner_id == Partner.id),
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

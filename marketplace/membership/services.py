"""Adhesion periods: staff grants now, paid periods later; who counts as a paying member."""

from __future__ import annotations

import logging
from datetime import date

from dateutil.relativedelta import relativedelta
from flask_babel import gettext as _
from sqlalchemy import exists, select

from marketplace import audit
from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.errors import InvalidInput
from marketplace.extensions import db
from marketplace.membership.models import Membership, MembershipTier

logger = logging.getLogger(__name__)

MAX_GRANT_MONTHS = 120


def has_active_membership(user: User, *, on: date | None = None) -> bool:
    """True when a membership period covers ``on`` (today by default): starts_on <= on < ends_on."""
    day = on or utcnow().date()
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    Membership.user_id == user.id,
                    Membership.starts_on <= day,
                    Membership.ends_on > day,
                )
            )
        )
    )


def active_membership(user: User, *, on: date | None = None) -> Membership | None:
    """The period covering ``on`` that lasts longest, or None."""
    day = on or utcnow().date()
    return db.session.scalar(
        select(Membership)
        .where(Membership.user_id == user.id, Membership.starts_on <= day, Membership.ends_on > day)
        .order_by(Membership.ends_on.desc())
        .limit(1)
    )


def grant_membership(
    user: User,
    *,
    actor: User | None,
    months: int = 12,
    tier: MembershipTier | None = None,
    starts_on: date | None = None,
) -> Membership:
    """Give ``user`` a staff-granted period of ``months`` months (audited)."""
    if not 1 <= months <= MAX_GRANT_MONTHS:
        raise InvalidInput(_("A membership lasts between 1 and %(n)d months.", n=MAX_GRANT_MONTHS))
    start = starts_on or utcnow().date()
    membership = Membership(
        user_id=user.id,
        tier_id=tier.id if tier is not None else None,
        starts_on=start,
        ends_on=start + relativedelta(months=months),
        source="staff",
        granted_by_id=getattr(actor, "id", None),
    )
    db.session.add(membership)
    db.session.flush()
    audit.record(
        "membership.granted",
        actor=actor,
        object_type="user",
        object_id=user.id,
        membership_id=membership.id,
        starts_on=start.isoformat(),
        ends_on=membership.ends_on.isoformat(),
        tier=tier.code if tier is not None else None,
    )
    logger.info(
        "membership %s granted to user %s by %s", membership.id, user.id, membership.granted_by_id
    )
    return membership

"""The dashboard's membership figures: people active, in grace, lapsed, or ending soon."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select

from marketplace.extensions import db
from marketplace.membership.models import Membership
from marketplace.membership.services import GRACE_DAYS

# An active person no period covers this many days from now is "ending soon".
ENDING_SOON_DAYS = 30


@dataclass(frozen=True)
class MembershipCounts:
    """People by membership status on a day (the rules of ``membership_status``)."""

    active: int
    grace: int
    lapsed: int
    ending_soon: int


def membership_counts(*, today: date) -> MembershipCounts:
    """Active, in grace, lapsed, and active but not covered in 30 days — one query over people.

    A person is active when a period covers ``today``; otherwise in grace when their last
    period ended at most ``GRACE_DAYS`` ago, lapsed when earlier. "Ending soon" is an active
    person no period covers ``ENDING_SOON_DAYS`` days from now (a renewal paid ahead covers).
    """
    soon = today + timedelta(days=ENDING_SOON_DAYS)

    def any_period(condition: Any) -> Any:
        return func.max(case((condition, 1), else_=0))

    people = (
        select(
            Membership.user_id,
            any_period(and_(Membership.starts_on <= today, Membership.ends_on > today)).label(
                "active"
            ),
            any_period(and_(Membership.starts_on <= soon, Membership.ends_on > soon)).label(
                "covered_soon"
            ),
            any_period(
                and_(
                    Membership.ends_on <= today,
                    Membership.ends_on >= today - timedelta(days=GRACE_DAYS),
                )
            ).label("grace"),
            any_period(Membership.ends_on <= today).label("ended"),
        )
        .group_by(Membership.user_id)
        .subquery()
    )

    def count(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = db.session.execute(
        select(
            count(people.c.active == 1),
            count(and_(people.c.active == 0, people.c.grace == 1)),
            count(and_(people.c.active == 0, people.c.grace == 0, people.c.ended == 1)),
            count(and_(people.c.active == 1, people.c.covered_soon == 0)),
        )
    ).one()
    return MembershipCounts(*(int(value) for value in row))

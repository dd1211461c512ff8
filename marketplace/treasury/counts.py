"""Counts beside the treasury's sums: people by membership status, failed payments and
disputes (split from ``dashboard.py``, which sums the ledger; the dashboard shows both)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import lazyload

from marketplace.extensions import db
from marketplace.membership.models import Membership
from marketplace.membership.services import GRACE_DAYS
from marketplace.payments.models import CLOSED_DISPUTE_STATUSES, Dispute, Payment, PaymentStatus
from marketplace.treasury.services import day_start

ENDING_SOON_DAYS = 30
LATEST_FAILED = 5
DISPUTE_FLAG = "dispute"


def _between(column: Any, start: date, end: date) -> Any:
    """``column`` falls on a day from ``start`` to ``end`` (inclusive) in the accounting zone."""
    return and_(column >= day_start(start), column < day_start(end + timedelta(days=1)))


# ---------------------------------------------------------------- memberships


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


# ---------------------------------------------------------------- failures and disputes


@dataclass(frozen=True)
class FailedPayments:
    """Failed payments created in the period: how many, and the latest few."""

    count: int
    latest: list[Payment]


def failed_payments(*, start: date, end: date, limit: int = LATEST_FAILED) -> FailedPayments:
    """The failed payments of the period (a count and the latest ``limit``; two queries)."""
    condition = and_(
        Payment.status == PaymentStatus.FAILED, _between(Payment.created_at, start, end)
    )
    count = db.session.scalar(select(func.count(Payment.id)).where(condition)) or 0
    latest = list(
        db.session.scalars(
            select(Payment)
            .options(lazyload(Payment.refunds), lazyload(Payment.disputes))  # not shown
            .where(condition)
            .order_by(Payment.created_at.desc(), Payment.id.desc())
            .limit(limit)
        )
    )
    return FailedPayments(count=int(count), latest=latest)


def open_dispute_condition() -> Any:
    """A payment with a dispute not closed at Stripe (or flagged disputed before the ledger
    kept disputes)."""
    open_rows = (
        select(Dispute.id)
        .where(
            Dispute.payment_id == Payment.id,
            Dispute.status.not_in(sorted(CLOSED_DISPUTE_STATUSES)),
        )
        .exists()
    )
    any_rows = select(Dispute.id).where(Dispute.payment_id == Payment.id).exists()
    return or_(open_rows, and_(Payment.flag == DISPUTE_FLAG, ~any_rows))


@dataclass(frozen=True)
class DisputeCounts:
    """Disputes still open, disputes opened in the period, payouts the bank sent back."""

    open: int
    in_period: int
    payouts_failed: int = 0


def dispute_counts(*, start: date, end: date) -> DisputeCounts:
    """Open disputes and those opened in the period, failed payouts (one query)."""
    from marketplace.treasury.models import Payout  # the treasury's own table

    def count(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    failed = select(func.count(Payout.id)).where(Payout.status == "failed").scalar_subquery()
    row = db.session.execute(
        select(
            count(open_dispute_condition()),
            count(_between(Payment.disputed_at, start, end)),
            failed,
        ).where(or_(Payment.flag == DISPUTE_FLAG, Payment.disputed_at.is_not(None)))
    ).one()
    return DisputeCounts(open=int(row[0]), in_period=int(row[1]), payouts_failed=int(row[2] or 0))

"""The treasurer's dashboard figures: pure reads, summed by the database, booked in euros.

Every function takes its period explicitly and runs a fixed number of aggregate queries,
whatever the period's length or the number of rows. Days and months are those of the
accounting zone (Europe/Paris): a payment at 23:30 UTC on 31 January counts in February.

Definitions (the same on the page and in the API), all in euros, the currency Stripe settles
in: a payment in another currency counts for what Stripe settled (its balance transaction),
with its own amount and currency shown beside (``originals``); one not settled yet is counted
there only, never added as if it were euros.

- gross: settled amount of the payments that succeeded in the period (``succeeded_at``),
  whatever happened to them later (refunded, disputed);
- fees: the Stripe fees of those same payments;
- refunds: succeeded refunds, by the day the refund was made (``Refund.created_at``);
- disputes: funds withdrawn by disputes (by day withdrawn) less funds reinstated (by day
  reinstated), and Stripe's dispute fees;
- net = gross − fees − refunds − disputes − dispute fees.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import and_, case, func, literal, null, or_, select

from marketplace.cache import cached
from marketplace.extensions import db
from marketplace.payments.document_series import ACCOUNTING_ZONE, DOCUMENT_STATUSES
from marketplace.payments.models import (
    Dispute,
    Payment,
    PaymentKind,
    Refund,
)
from marketplace.treasury.counts import (
    DisputeCounts,
    FailedPayments,
    MembershipCounts,
    dispute_counts,
    failed_payments,
    membership_counts,
)
from marketplace.treasury.services import day_start

KINDS: tuple[str, ...] = tuple(kind.value for kind in PaymentKind)
# Always shown, even before its first payment: the association's own currency.
HOME_CURRENCY = "EUR"
SERIES_MONTHS = (12, 24)
REFUND_SUCCEEDED = "succeeded"


# ---------------------------------------------------------------- periods


class Preset(enum.StrEnum):
    """The periods offered on the dashboard besides a custom one."""

    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"
    THIS_YEAR = "this_year"
    LAST_12_MONTHS = "last_12_months"
    CUSTOM = "custom"


@dataclass(frozen=True)
class Period:
    """Days ``start`` to ``end``, both included, in the accounting zone."""

    start: date
    end: date
    preset: Preset = Preset.CUSTOM


def accounting_today(now: datetime) -> date:
    """The day it is in the accounting zone at ``now`` (an aware datetime)."""
    return now.astimezone(ACCOUNTING_ZONE).date()


def month_start(day: date) -> date:
    return day.replace(day=1)


def preset_period(preset: Preset, *, today: date) -> Period:
    """The days of a preset as seen on ``today`` (a custom preset gives this month)."""
    first = month_start(today)
    if preset == Preset.LAST_MONTH:
        start = first - relativedelta(months=1)
        return Period(start, first - timedelta(days=1), preset)
    if preset == Preset.THIS_YEAR:
        return Period(date(today.year, 1, 1), date(today.year, 12, 31), preset)
    if preset == Preset.LAST_12_MONTHS:
        # The current month and the eleven before it.
        return Period(first - relativedelta(months=11), _month_end(first), preset)
    return Period(first, _month_end(first), Preset.THIS_MONTH)


def _month_end(first: date) -> date:
    return first + relativedelta(months=1) - timedelta(days=1)


def _between(column: Any, start: date, end: date) -> Any:
    """``column`` falls on a day from ``start`` to ``end`` (inclusive) in the accounting zone."""
    return and_(column >= day_start(start), column < day_start(end + timedelta(days=1)))


# ---------------------------------------------------------------- sums of a period


@dataclass
class Sums:
    """Money of one kind (or all kinds), in euro cents."""

    gross: int = 0
    fees: int = 0
    refunds: int = 0
    count: int = 0
    refund_count: int = 0
    disputes: int = 0  # withdrawn less reinstated
    dispute_fees: int = 0
    dispute_count: int = 0

    @property
    def net(self) -> int:
        return self.gross - self.fees - self.refunds - self.disputes - self.dispute_fees

    def add(self, other: Sums) -> None:
        self.gross += other.gross
        self.fees += other.fees
        self.refunds += other.refunds
        self.count += other.count
        self.refund_count += other.refund_count
        self.disputes += other.disputes
        self.dispute_fees += other.dispute_fees
        self.dispute_count += other.dispute_count

    @property
    def empty(self) -> bool:
        return not (self.count or self.refund_count or self.dispute_count)


@dataclass
class KindSums:
    """One line of the table by kind: a kind's money in euros, in minor units."""

    kind: str
    currency: str
    gross: int
    fees: int
    refunds: int
    count: int
    disputes: int = 0
    dispute_fees: int = 0

    @property
    def net(self) -> int:
        return self.gross - self.fees - self.refunds - self.disputes - self.dispute_fees


class KindTotal:
    """``total``: the sums of every kind of ``by_kind`` together."""

    by_kind: dict[str, Sums]

    @property
    def total(self) -> Sums:
        total = Sums()
        for sums in self.by_kind.values():
            total.add(sums)
        return total


@dataclass(frozen=True)
class OriginalSums:
    """Payments charged in another currency than the euro: their own amount beside what
    Stripe settled in euros (``unsettled`` of them have no settlement yet)."""

    currency: str
    amount: int
    settled: int
    count: int
    unsettled: int


@dataclass
class CurrencyFigures(KindTotal):
    """The booked sums (in ``currency``, the euro): in total and for each kind (every kind
    present, maybe zero), and the payments in other currencies beside them."""

    currency: str
    by_kind: dict[str, Sums] = field(default_factory=lambda: {kind: Sums() for kind in KINDS})
    originals: list[OriginalSums] = field(default_factory=list)


def _is_home(currency: Any) -> Any:
    return func.upper(currency) == HOME_CURRENCY


def booked_amount() -> Any:
    """A payment's amount in euros: what Stripe settled, else its own amount if in euros."""
    return func.coalesce(
        Payment.settled_amount, case((_is_home(Payment.currency), Payment.amount), else_=null())
    )


def booked_refund() -> Any:
    """A refund's amount in euros (its balance transaction, else its own amount in euros)."""
    return func.coalesce(
        Refund.settled_amount, case((_is_home(Payment.currency), Refund.amount), else_=null())
    )


def _paid_query(start: date, end: date) -> Any:
    """Gross, fees and count by kind of the payments that succeeded (and settled) in the period."""
    return (
        select(
            Payment.kind,
            func.coalesce(func.sum(booked_amount()), 0),
            func.coalesce(func.sum(Payment.stripe_fee), 0),
            func.count(booked_amount()),
        )
        .where(
            Payment.status.in_(sorted(DOCUMENT_STATUSES)),
            _between(Payment.succeeded_at, start, end),
            booked_amount().is_not(None),
        )
        .group_by(Payment.kind)
    )


def _refund_query(start: date, end: date) -> Any:
    """Succeeded refunds by kind, in euros, by the day they were made."""
    return (
        select(
            Payment.kind,
            func.coalesce(func.sum(booked_refund()), 0),
            func.count(booked_refund()),
        )
        .join(Payment, Payment.id == Refund.payment_id)
        .where(Refund.status == REFUND_SUCCEEDED, _between(Refund.created_at, start, end))
        .group_by(Payment.kind)
    )


def _dispute_query(start: date, end: date) -> Any:
    """Funds withdrawn (by day withdrawn) less reinstated (by day reinstated), their fees."""
    withdrawn = _between(Dispute.withdrawn_at, start, end)
    reinstated = _between(Dispute.reinstated_at, start, end)
    return (
        select(
            Payment.kind,
            func.coalesce(
                func.sum(case((withdrawn, Dispute.withdrawn_amount), else_=0))
                - func.sum(case((reinstated, Dispute.reinstated_amount), else_=0)),
                0,
            ),
            func.coalesce(
                func.sum(case((withdrawn, Dispute.withdrawn_fee), else_=0))
                + func.sum(case((reinstated, Dispute.reinstated_fee), else_=0)),
                0,
            ),
            func.coalesce(func.sum(case((withdrawn, 1), else_=0)), 0),
        )
        .join(Payment, Payment.id == Dispute.payment_id)
        .where(or_(withdrawn, reinstated))
        .group_by(Payment.kind)
    )


def _originals_query(start: date, end: date) -> Any:
    """Payments in other currencies that succeeded in the period, by currency."""
    return (
        select(
            func.upper(Payment.currency),
            func.coalesce(func.sum(Payment.amount), 0),
            func.coalesce(func.sum(Payment.settled_amount), 0),
            func.count(Payment.id),
            func.count(Payment.id) - func.count(Payment.settled_amount),
        )
        .where(
            Payment.status.in_(sorted(DOCUMENT_STATUSES)),
            _between(Payment.succeeded_at, start, end),
            ~_is_home(Payment.currency),
        )
        .group_by(func.upper(Payment.currency))
        .order_by(func.upper(Payment.currency))
    )


def _kind(value: Any) -> str:
    return PaymentKind(value).value


def period_figures(*, start: date, end: date) -> list[CurrencyFigures]:
    """Gross, fees, refunds, disputes, net and counts of the period in euros, with the payments
    in other currencies beside (four queries). A list of one: the books' currency."""
    figures = CurrencyFigures(HOME_CURRENCY)
    for kind, gross, fees, count in db.session.execute(_paid_query(start, end)):
        sums = figures.by_kind[_kind(kind)]
        sums.gross, sums.fees, sums.count = int(gross), int(fees), int(count)
    for kind, amount, count in db.session.execute(_refund_query(start, end)):
        sums = figures.by_kind[_kind(kind)]
        sums.refunds, sums.refund_count = int(amount), int(count)
    for kind, net, fees, count in db.session.execute(_dispute_query(start, end)):
        sums = figures.by_kind[_kind(kind)]
        sums.disputes, sums.dispute_fees, sums.dispute_count = int(net), int(fees), int(count)
    figures.originals = [
        OriginalSums(str(code), int(amount), int(settled), int(count), int(unsettled))
        for code, amount, settled, count, unsettled in db.session.execute(
            _originals_query(start, end)
        )
    ]
    return [figures]


def kind_rows(figures: Iterable[CurrencyFigures]) -> list[KindSums]:
    """The non-empty (kind, currency) sums as the API's ``by_kind`` lists them."""
    return [
        KindSums(
            kind=kind,
            currency=row.currency,
            gross=sums.gross,
            fees=sums.fees,
            refunds=sums.refunds,
            count=sums.count,
            disputes=sums.disputes,
            dispute_fees=sums.dispute_fees,
        )
        for row in figures
        for kind, sums in row.by_kind.items()
        if not sums.empty
    ]


# ---------------------------------------------------------------- monthly series


@dataclass
class MonthPoint(KindTotal):
    """One month of one currency: sums by kind."""

    month: date
    by_kind: dict[str, Sums] = field(default_factory=lambda: {kind: Sums() for kind in KINDS})


@dataclass
class CurrencySeries:
    """The months of one currency, oldest first (months without payments are zeros)."""

    currency: str
    points: list[MonthPoint]


def series_months(last: date, months: int) -> list[date]:
    """The first days of the ``months`` months ending with the month of ``last``."""
    final = month_start(last)
    return [final - relativedelta(months=back) for back in range(months - 1, -1, -1)]


def _month_index(column: Any, months: list[date]) -> Any:
    """A CASE giving the position of ``column``'s month (accounting zone) in ``months``.

    Month boundaries are computed here with the time zone database, so the SQL stays
    portable (SQLite has no time zones) and daylight saving time is respected.
    """
    bounds = [day_start(month) for month in months]
    bounds.append(day_start(months[-1] + relativedelta(months=1)))
    return case(
        *(
            (and_(column >= bounds[index], column < bounds[index + 1]), literal(index))
            for index in range(len(months))
        ),
        else_=None,
    )


def monthly_series(*, last: date, months: int = 12) -> list[CurrencySeries]:
    """Gross, fees, refunds and net per month and kind, per currency (two queries)."""
    if months not in SERIES_MONTHS:
        raise ValueError(f"months must be one of {SERIES_MONTHS}")
    firsts = series_months(last, months)
    start, end = firsts[0], _month_end(firsts[-1])
    # The CASE sits in a subquery so the outer GROUP BY names a column, not a repeated
    # expression with its own bound parameters (which PostgreSQL would not match).
    paid = (
        select(
            _month_index(Payment.succeeded_at, firsts).label("month"),
            Payment.kind.label("kind"),
            booked_amount().label("amount"),
            Payment.stripe_fee.label("fee"),
        )
        .where(
            Payment.status.in_(sorted(DOCUMENT_STATUSES)),
            _between(Payment.succeeded_at, start, end),
            booked_amount().is_not(None),
        )
        .subquery()
    )
    refunds = (
        select(
            _month_index(Refund.created_at, firsts).label("month"),
            Payment.kind.label("kind"),
            booked_refund().label("amount"),
        )
        .join(Payment, Payment.id == Refund.payment_id)
        .where(
            Refund.status == REFUND_SUCCEEDED,
            _between(Refund.created_at, start, end),
            booked_refund().is_not(None),
        )
        .subquery()
    )
    disputes = (
        select(
            _month_index(Dispute.withdrawn_at, firsts).label("out_month"),
            _month_index(Dispute.reinstated_at, firsts).label("back_month"),
            Payment.kind.label("kind"),
            Dispute.withdrawn_amount.label("withdrawn"),
            Dispute.withdrawn_fee.label("fee"),
            Dispute.reinstated_amount.label("reinstated"),
            Dispute.reinstated_fee.label("back_fee"),
        )
        .join(Payment, Payment.id == Dispute.payment_id)
        .where(
            or_(
                _between(Dispute.withdrawn_at, start, end),
                _between(Dispute.reinstated_at, start, end),
            )
        )
    )
    series = CurrencySeries(HOME_CURRENCY, [MonthPoint(first) for first in firsts])
    for month, kind, gross, fees, count in db.session.execute(
        select(
            paid.c.month,
            paid.c.kind,
            func.coalesce(func.sum(paid.c.amount), 0),
            func.coalesce(func.sum(paid.c.fee), 0),
            func.count(),
        ).group_by(paid.c.month, paid.c.kind)
    ):
        sums = series.points[int(month)].by_kind[_kind(kind)]
        sums.gross, sums.fees, sums.count = int(gross), int(fees), int(count)
    for month, kind, amount, count in db.session.execute(
        select(
            refunds.c.month,
            refunds.c.kind,
            func.coalesce(func.sum(refunds.c.amount), 0),
            func.count(),
        ).group_by(refunds.c.month, refunds.c.kind)
    ):
        sums = series.points[int(month)].by_kind[_kind(kind)]
        sums.refunds, sums.refund_count = int(amount), int(count)
    # Few rows (disputes are rare): added up here, month by month.
    for out_month, back_month, kind, withdrawn, fee, reinstated, back_fee in db.session.execute(
        disputes
    ):
        if out_month is not None:
            sums = series.points[int(out_month)].by_kind[_kind(kind)]
            sums.disputes += int(withdrawn)
            sums.dispute_fees += int(fee)
            sums.dispute_count += 1
        if back_month is not None:
            sums = series.points[int(back_month)].by_kind[_kind(kind)]
            sums.disputes -= int(reinstated)
            sums.dispute_fees += int(back_fee)
    return [series]


# ---------------------------------------------------------------- everything at once


@dataclass
class Dashboard:
    """What the dashboard page and the summary API show for one period."""

    period: Period
    figures: list[CurrencyFigures]
    series: list[CurrencySeries] | None
    memberships: MembershipCounts
    failed: FailedPayments
    disputes: DisputeCounts


# What the sums are computed from: a committed write to one of these tables recomputes them.
LEDGER_TABLES = ("payments", "refunds", "disputes")
MEMBERSHIP_TABLES = ("memberships", "users")


def build_dashboard(*, period: Period, today: date, months: int | None = 12) -> Dashboard:
    """Every figure of the dashboard (eight queries with the series, six without).

    The sums over the ledger and the membership counts grow with the data (a year of 200,000
    payments); they are cached until the next committed write to their tables
    (marketplace/cache.py), so a dashboard read again costs the same at any size.
    """
    start, end = period.start, period.end
    return Dashboard(
        period=period,
        figures=cached(
            "treasury-figures",
            LEDGER_TABLES,
            (start, end),
            lambda: period_figures(start=start, end=end),
        ),
        series=(
            cached(
                "treasury-series",
                LEDGER_TABLES,
                (end, months),
                lambda: monthly_series(last=end, months=months),
            )
            if months
            else None
        ),
        memberships=cached(
            "treasury-memberships",
            MEMBERSHIP_TABLES,
            (today,),
            lambda: membership_counts(today=today),
        ),
        failed=failed_payments(start=period.start, end=period.end),
        disputes=dispute_counts(start=period.start, end=period.end),
    )

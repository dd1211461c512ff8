"""Reads of the treasury: the filtered payment ledger and the sums of a period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from math import ceil
from typing import Any

from sqlalchemy import Select, func, select

from marketplace.admin.services import Page
from marketplace.extensions import db
from marketplace.payments.documents import ACCOUNTING_ZONE, DOCUMENT_STATUSES
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus

PAYMENTS_PER_PAGE = 50


def day_start(day: date) -> datetime:
    """Midnight of ``day`` in the association's time zone."""
    return datetime.combine(day, time.min, tzinfo=ACCOUNTING_ZONE)


def _period(query: Select[Any], column: Any, start: date | None, end: date | None) -> Select[Any]:
    """Restrict to ``start`` ≤ day ≤ ``end`` (both inclusive, either optional)."""
    if start is not None:
        query = query.where(column >= day_start(start))
    if end is not None:
        query = query.where(column < day_start(end + timedelta(days=1)))
    return query


def payments_query(
    *,
    start: date | None = None,
    end: date | None = None,
    kind: PaymentKind | None = None,
    status: PaymentStatus | None = None,
) -> Select[Any]:
    """The ledger, newest first, filtered by creation day, kind and status."""
    query = select(Payment)
    query = _period(query, Payment.created_at, start, end)
    if kind is not None:
        query = query.where(Payment.kind == kind)
    if status is not None:
        query = query.where(Payment.status == status)
    return query.order_by(Payment.created_at.desc(), Payment.id.desc())


def search_payments(
    *,
    start: date | None = None,
    end: date | None = None,
    kind: PaymentKind | None = None,
    status: PaymentStatus | None = None,
    page: int = 1,
    per_page: int | None = None,
) -> Page[Payment]:
    """One page of the filtered ledger: a count and a fetch (refunds come in one more query)."""
    per_page = per_page or PAYMENTS_PER_PAGE
    query = payments_query(start=start, end=end, kind=kind, status=status)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    total = total or 0
    page = min(max(page, 1), max(1, ceil(total / per_page)))
    items = db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items=items, total=total, page=page, per_page=per_page)


@dataclass
class KindSums:
    """What a kind of payment brought in a period, in minor units."""

    kind: str
    currency: str
    gross: int
    fees: int
    refunds: int
    count: int

    @property
    def net(self) -> int:
        return self.gross - self.fees - self.refunds


def period_summary(*, start: date | None = None, end: date | None = None) -> list[KindSums]:
    """Sums by kind and currency of the payments that succeeded in the period."""
    query = select(
        Payment.kind,
        Payment.currency,
        func.coalesce(func.sum(Payment.amount), 0),
        func.coalesce(func.sum(Payment.stripe_fee), 0),
        func.coalesce(func.sum(Payment.refunded_amount), 0),
        func.count(Payment.id),
    ).where(Payment.status.in_(sorted(DOCUMENT_STATUSES)))
    query = _period(query, Payment.succeeded_at, start, end)
    query = query.group_by(Payment.kind, Payment.currency).order_by(Payment.kind, Payment.currency)
    return [
        KindSums(
            kind=str(PaymentKind(kind).value),
            currency=currency,
            gross=int(gross),
            fees=int(fees),
            refunds=int(refunds),
            count=int(count),
        )
        for kind, currency, gross, fees, refunds, count in db.session.execute(query)
    ]


def refundable_amount(payment: Payment) -> int:
    """What can still be refunded, in minor units (0 unless the payment was paid)."""
    if payment.status not in {PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED}:
        return 0
    return payment.amount - payment.refunded_amount

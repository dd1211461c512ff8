"""Reads of the treasury: the filtered, searched and sorted ledger, a payment's timeline, sums.

The ledger filters (period of the creation day, kind, status) are shared by the payments
table, the API and the CSV export (``ledger_filters``), so the three always agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from math import ceil
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, case, func, or_, select

from marketplace.accounts.models import User
from marketplace.admin.services import Page
from marketplace.admin.services import _contains as _like_pattern
from marketplace.extensions import db
from marketplace.payments.document_series import ACCOUNTING_ZONE
from marketplace.payments.models import (
    STATUS_RANK,
    Payment,
    PaymentKind,
    PaymentStatus,
    Refund,
    StripeEvent,
)
from marketplace.treasury.models import Payout, PayoutLine

PAYMENTS_PER_PAGE = 50

# Sort keys of the table and the API; a leading "-" sorts in descending order.
SORT_KEYS = ("date", "amount", "status")
DEFAULT_SORT = "-date"
SORTS = (*SORT_KEYS, *(f"-{key}" for key in SORT_KEYS))

_DOCUMENT_NUMBER = re.compile(r"(?:([A-Za-z]{1,2})-)?(\d{4})-(\d{1,6})")
_PAYMENT_NUMBER = re.compile(r"#?(\d{1,12})")
# Stripe ids a treasurer may paste: intents, charges, customers, setup intents, refunds.
_STRIPE_ID = re.compile(r"(pi|ch|py|cus|seti|re)_[A-Za-z0-9]+")


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


def ledger_filters(
    query: Select[Any],
    *,
    start: date | None = None,
    end: date | None = None,
    kind: PaymentKind | None = None,
    status: PaymentStatus | None = None,
) -> Select[Any]:
    """The ledger's filters on a query over ``Payment``: creation day, kind and status."""
    query = _period(query, Payment.created_at, start, end)
    if kind is not None:
        query = query.where(Payment.kind == kind)
    if status is not None:
        query = query.where(Payment.status == status)
    return query


def search_condition(q: str) -> Any:
    """Payments matching what a treasurer typed: a document number, a Stripe id, a payment
    number, or part of the payer's name or e-mail."""
    q = q.strip()
    document = _DOCUMENT_NUMBER.fullmatch(q)
    if document:
        prefix = f"{document[1].upper()}-" if document[1] else ""
        return Payment.document_number == f"{prefix}{document[2]}-{int(document[3]):06d}"
    if _STRIPE_ID.fullmatch(q):
        return or_(
            Payment.stripe_payment_intent_id == q,
            Payment.stripe_charge_id == q,
            Payment.stripe_customer_id == q,
            Payment.stripe_setup_intent_id == q,
            Payment.id.in_(select(Refund.payment_id).where(Refund.stripe_refund_id == q)),
        )
    pattern = _like_pattern(q)
    condition = or_(
        Payment.payer_name.ilike(pattern, escape="\\"),
        Payment.payer_email.ilike(pattern, escape="\\"),
    )
    number = _PAYMENT_NUMBER.fullmatch(q)
    if number:
        condition = or_(condition, Payment.id == int(number[1]))
    return condition


def _order(sort: str | None) -> list[Any]:
    """ORDER BY of a whitelisted sort key (the default for anything else), the id last."""
    sort = sort if sort in SORTS else DEFAULT_SORT
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key == "amount":
        column: Any = Payment.amount
    elif key == "status":
        # By progress in the life of a payment, not alphabetically.
        column = case(*((Payment.status == status, rank) for status, rank in STATUS_RANK.items()))
    else:
        column = Payment.created_at
    if descending:
        return [column.desc(), Payment.id.desc()]
    return [column.asc(), Payment.id.asc()]


def payments_query(
    *,
    start: date | None = None,
    end: date | None = None,
    kind: PaymentKind | None = None,
    status: PaymentStatus | None = None,
    q: str | None = None,
    sort: str | None = None,
) -> Select[Any]:
    """The ledger filtered by creation day, kind, status and a search, in the asked order."""
    query = ledger_filters(select(Payment), start=start, end=end, kind=kind, status=status)
    if q and q.strip():
        query = query.where(search_condition(q))
    return query.order_by(*_order(sort))


def paginate(query: Select[Any], *, page: int, per_page: int) -> Page[Any]:
    """Count, then fetch one page of entities (a page past the end shows the last one)."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    total = total or 0
    page = min(max(page, 1), max(1, ceil(total / per_page)))
    items = db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items=items, total=total, page=page, per_page=per_page)


def search_payments(
    *,
    start: date | None = None,
    end: date | None = None,
    kind: PaymentKind | None = None,
    status: PaymentStatus | None = None,
    q: str | None = None,
    sort: str | None = None,
    page: int = 1,
    per_page: int | None = None,
) -> Page[Payment]:
    """One page of the ledger: a count and a fetch (refunds come in one more query)."""
    per_page = per_page or PAYMENTS_PER_PAGE
    query = payments_query(start=start, end=end, kind=kind, status=status, q=q, sort=sort)
    return paginate(query, page=page, per_page=per_page)


# -- a payment's timeline ------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    """One dated fact in a payment's life; ``code`` is stable (pages and tests key on it)."""

    moment: datetime
    code: str
    label: str
    detail: str = ""
    actor: str | None = None
    refund_id: int | None = None
    status: str | None = None


def _stripe_events(payment: Payment) -> Sequence[StripeEvent]:
    """The webhook events received about this payment's intent, charge or refunds."""
    ids = {payment.stripe_payment_intent_id, payment.stripe_charge_id}
    ids |= {refund.stripe_refund_id for refund in payment.refunds}
    ids.discard(None)
    if not ids:
        return []
    return db.session.scalars(
        select(StripeEvent).where(StripeEvent.object_id.in_(sorted(ids))).order_by(StripeEvent.id)
    ).all()


def payment_payouts(payment_id: int) -> list[tuple[Payout, PayoutLine]]:
    """The payouts that paid this payment (or its refunds) out, with the matching line."""
    rows = db.session.execute(
        select(Payout, PayoutLine)
        .join(PayoutLine, PayoutLine.payout_id == Payout.id)
        .where(PayoutLine.payment_id == payment_id)
        .order_by(Payout.id, PayoutLine.id)
    )
    return [(payout, line) for payout, line in rows]


def timeline(payment: Payment) -> list[TimelineEntry]:
    """What happened to a payment, oldest first: a fixed number of queries."""
    entries = [TimelineEntry(payment.created_at, "created", _("Payment created"))]
    for stripe_event in _stripe_events(payment):
        entries.append(
            TimelineEntry(
                stripe_event.received_at,
                "stripe_event",
                _("Stripe event received"),
                f"{stripe_event.type} ({stripe_event.event_id})",
            )
        )
    if payment.succeeded_at:
        entries.append(TimelineEntry(payment.succeeded_at, "succeeded", _("Payment succeeded")))
        if payment.document_number:
            entries.append(
                TimelineEntry(
                    payment.succeeded_at,
                    "document",
                    _("Document numbered"),
                    payment.document_number,
                )
            )
    if payment.fulfilled_at:
        entries.append(TimelineEntry(payment.fulfilled_at, "fulfilled", _("Delivered")))
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
        label = _("Payment failed") if payment.status == PaymentStatus.FAILED else _("Canceled")
        entries.append(
            TimelineEntry(
                payment.updated_at, str(payment.status), label, payment.failure_message or ""
            )
        )
    creators = {refund.created_by_id for refund in payment.refunds} - {None}
    names = {}
    if creators:
        names = dict(
            db.session.execute(select(User.id, User.full_name).where(User.id.in_(creators))).all()
        )
    for refund in payment.refunds:
        entries.append(
            TimelineEntry(
                refund.created_at,
                "refund",
                _("Refund"),
                refund.reason,
                actor=names.get(refund.created_by_id) if refund.created_by_id else None,
                refund_id=refund.id,
                status=refund.status,
            )
        )
    if payment.disputed_at:
        entries.append(TimelineEntry(payment.disputed_at, "disputed", _("Disputed by the payer")))
    for payout, line in payment_payouts(payment.id):
        if payout.arrival_date is not None:
            entries.append(
                TimelineEntry(
                    payout.arrival_date,
                    "payout",
                    _("Paid out to the bank"),
                    f"{payout.stripe_payout_id} ({line.type})",
                )
            )
    if payment.flag:
        entries.append(
            TimelineEntry(
                payment.updated_at, "flag", _("Flagged"), payment.flag_detail or payment.flag
            )
        )
    return sorted(entries, key=lambda entry: entry.moment)


def refundable_amount(payment: Payment) -> int:
    """What can still be refunded, in minor units (0 unless the payment was paid)."""
    if payment.status not in {PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED}:
        return 0
    return payment.amount - payment.refunded_amount

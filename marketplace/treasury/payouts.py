"""Stripe payouts, the balance transactions each contains, and their match with the ledger.

A ``payout.paid`` event is a hint: the payout is fetched again from Stripe with its balance
transactions (``list_balance_transactions(payout=...)``), then stored with one ``PayoutLine`` per
transaction, matched to a ``Payment`` (the charge id) or a ``Refund`` (the refund id). A payout
whose lines' net sum differs from its amount, or with charges / refunds the ledger does not know,
is flagged for the treasurer. Recording is idempotent: the same payout fetched twice gives the
same rows.

localstripe (the offline Stripe of the tests) creates and returns payouts, but refuses the
``payout`` filter of the balance transaction list and links no transaction to a payout; its fees
are always 0. The tests put a small stand-in in front of it that answers that one call with
localstripe's own transactions (see tests/treasury/conftest.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError

from marketplace.database import utcnow
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.payments import gateway
from marketplace.payments import services as payment_services
from marketplace.payments.models import Payment, Refund
from marketplace.treasury.models import Payout, PayoutLine

logger = logging.getLogger(__name__)

PAYOUTS_PER_PAGE = 50
# The due task looks back this far for payouts the webhook missed.
RECENT_PAYOUTS = timedelta(days=30)

# Balance transaction types that move a payment's money: each must match a ledger row.
CHARGE_TYPES = frozenset({"charge", "payment"})
REFUND_TYPES = frozenset({"refund", "payment_refund"})

FLAG_AMOUNT = "amount_mismatch"
FLAG_UNMATCHED = "unmatched_lines"
FLAG_LINES_UNAVAILABLE = "lines_unavailable"


class PayoutNotFound(DomainError):
    status = 404
    code = "not_found"
    message = _l("Payout not found.")


@dataclass(frozen=True)
class SyncResult:
    """What one fetch of a payout did: its row id, whether anything changed, its flag."""

    payout_id: int
    changed: bool
    flag: str | None


def _moment(timestamp: int | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, tz=UTC) if timestamp is not None else None


def _payout_row(info: gateway.PayoutInfo) -> Payout:
    """The payout's row, created once even when two deliveries race (unique Stripe id)."""
    query = select(Payout).where(Payout.stripe_payout_id == info.id)
    payout = db.session.scalar(query)
    if payout is not None:
        return payout
    try:
        with db.session.begin_nested():
            payout = Payout(
                stripe_payout_id=info.id,
                amount=info.amount,
                currency=info.currency,
                status=info.status,
            )
            db.session.add(payout)
    except IntegrityError:
        payout = db.session.scalar(query)
        assert payout is not None
    return payout


def _ledger_matches(
    transactions: Sequence[gateway.BalanceTransactionInfo],
) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """Payment ids by charge id and (refund id, payment id) by Stripe refund id: two queries."""
    charges = {t.source for t in transactions if t.type in CHARGE_TYPES and t.source}
    refunds = {t.source for t in transactions if t.type in REFUND_TYPES and t.source}
    by_charge: dict[str, int] = {}
    if charges:
        rows = db.session.execute(
            select(Payment.stripe_charge_id, Payment.id).where(
                Payment.stripe_charge_id.in_(sorted(charges))
            )
        )
        by_charge = {charge: payment_id for charge, payment_id in rows}
    by_refund: dict[str, tuple[int, int]] = {}
    if refunds:
        rows = db.session.execute(
            select(Refund.stripe_refund_id, Refund.id, Refund.payment_id).where(
                Refund.stripe_refund_id.in_(sorted(refunds))
            )
        )
        by_refund = {
            stripe_id: (refund_id, payment_id) for stripe_id, refund_id, payment_id in rows
        }
    return by_charge, by_refund


def record_payout(
    info: gateway.PayoutInfo, transactions: Sequence[gateway.BalanceTransactionInfo] | None
) -> SyncResult:
    """Store a payout and its lines (``None``: Stripe gave none) and flag it; flush only.

    The payout's own balance transaction (type ``payout``) is left out: the lines are what the
    payout pays, and their net amounts must add up to the payout's amount.
    """
    payout = _payout_row(info)
    before = (payout.amount, payout.status, payout.lines_total, payout.flag, payout.flag_detail)
    payout.amount = info.amount
    payout.currency = info.currency
    payout.status = info.status
    payout.arrival_date = _moment(info.arrival_date)
    payout.stripe_created_at = _moment(info.created)
    payout.fetched_at = utcnow()
    if info.status == "failed" and payout.failed_at is None:
        # The bank sent the money back: it is in the Stripe balance again (the FEC books it
        # back, the exceptions queue lists it).
        payout.failed_at = utcnow()
        payout.failure_code = (info.failure_code or "failed")[:60]
        logger.warning("payout %s failed: %s", info.id, payout.failure_code)
    changed_lines = False
    if transactions is None:
        payout.flag = FLAG_LINES_UNAVAILABLE
        payout.flag_detail = "Stripe did not list the balance transactions of this payout."
    else:
        kept = [t for t in transactions if t.type != "payout"]
        changed_lines = _store_lines(payout, kept)
        payout.lines_total = sum(t.net for t in kept)
        _flag(payout, kept)
    db.session.flush()
    after = (payout.amount, payout.status, payout.lines_total, payout.flag, payout.flag_detail)
    if payout.flag:
        logger.warning("payout %s flagged %s: %s", info.id, payout.flag, payout.flag_detail)
    return SyncResult(payout.id, changed_lines or before != after, payout.flag)


def _store_lines(payout: Payout, transactions: Sequence[gateway.BalanceTransactionInfo]) -> bool:
    """Make the payout's lines exactly ``transactions`` (update in place); True if any changed."""
    by_charge, by_refund = _ledger_matches(transactions)
    existing = {line.balance_transaction_id: line for line in payout.lines}
    changed = False
    wanted = {t.id for t in transactions}
    for stale_id, line in existing.items():
        if stale_id not in wanted:
            payout.lines.remove(line)
            changed = True
    for transaction in transactions:
        payment_id = refund_id = None
        if transaction.type in CHARGE_TYPES:
            payment_id = by_charge.get(transaction.source or "")
        elif transaction.type in REFUND_TYPES:
            refund_id, payment_id = by_refund.get(transaction.source or "", (None, None))
        values = {
            "type": transaction.type[:30],
            "source_id": (transaction.source or None) and transaction.source[:64],
            "amount": transaction.amount,
            "fee": transaction.fee,
            "net": transaction.net,
            "currency": transaction.currency,
            "payment_id": payment_id,
            "refund_id": refund_id,
        }
        line = existing.get(transaction.id)
        if line is None:
            payout.lines.append(PayoutLine(balance_transaction_id=transaction.id, **values))
            changed = True
            continue
        for name, value in values.items():
            if getattr(line, name) != value:
                setattr(line, name, value)
                changed = True
    return changed


def _flag(payout: Payout, transactions: Sequence[gateway.BalanceTransactionInfo]) -> None:
    """Flag a payout whose lines do not add up or name money the ledger does not know."""
    problems: list[str] = []
    flag = None
    total = sum(t.net for t in transactions)
    if total != payout.amount:
        flag = FLAG_AMOUNT
        problems.append(f"lines add up to {total}, the payout is {payout.amount} {payout.currency}")
    unmatched = [
        line.source_id or line.balance_transaction_id
        for line in payout.lines
        if (line.type in CHARGE_TYPES and line.payment_id is None)
        or (line.type in REFUND_TYPES and line.refund_id is None)
    ]
    if unmatched:
        flag = flag or FLAG_UNMATCHED
        problems.append("not in the ledger: " + ", ".join(sorted(unmatched)[:20]))
    payout.flag = flag
    payout.flag_detail = "; ".join(problems)[:2000] or None


def _fetch(stripe_payout_id: str) -> tuple[gateway.PayoutInfo, list | None]:
    """The payout and its transactions from Stripe (``None`` when Stripe will not list them)."""
    client = gateway.get_gateway()
    try:
        info = client.retrieve_payout(stripe_payout_id)
    except gateway.GatewayUnavailable as error:
        raise payment_services.PaymentServiceUnavailable(error.user_message) from error
    except gateway.GatewayError as error:
        raise PayoutNotFound() from error
    try:
        transactions = client.list_balance_transactions(payout=stripe_payout_id)
    except gateway.GatewayUnavailable as error:
        raise payment_services.PaymentServiceUnavailable(error.user_message) from error
    except gateway.GatewayError as error:
        logger.warning("payout %s: balance transactions not listed: %s", info.id, error.detail)
        transactions = None
    return info, transactions


def sync_payout(stripe_payout_id: str) -> SyncResult:
    """Fetch a payout and its balance transactions from Stripe and store them; flush only.

    Raises ``PaymentServiceUnavailable`` when Stripe is unreachable (the webhook answers 503 so
    Stripe retries) and ``PayoutNotFound`` when Stripe does not know the payout.
    """
    info, transactions = _fetch(stripe_payout_id)
    return record_payout(info, transactions)


def handle_payout_event(event: gateway.EventInfo) -> None:
    """``payout.paid`` / ``payout.failed``: a hint, the payout is fetched again from Stripe."""
    if not event.object_id:
        return
    try:
        result = sync_payout(event.object_id)
    except PayoutNotFound:
        logger.info("event %s: Stripe does not know payout %s", event.id, event.object_id)
        return
    logger.info("event %s: payout %s recorded (flag %s)", event.id, event.object_id, result.flag)


def sync_recent_payouts(now: datetime) -> str:
    """Fetch the payouts paid in the last 30 days that are missing or incomplete; commits."""
    since = int((now - RECENT_PAYOUTS).timestamp())
    try:
        recent = gateway.get_gateway().list_payouts(created_since=since)
    except gateway.GatewayError as error:
        logger.warning("payouts not listed: %s", error.detail)
        return "payouts not listed (Stripe unreachable or refusing)"
    paid = [info for info in recent if info.status == "paid"]
    complete = set(
        db.session.scalars(
            select(Payout.stripe_payout_id).where(
                Payout.stripe_payout_id.in_([info.id for info in paid]),
                Payout.status == "paid",
                Payout.lines_total.is_not(None),
                func.coalesce(Payout.flag, "") != FLAG_LINES_UNAVAILABLE,
            )
        )
    )
    fetched = flagged = failed = 0
    for info in paid:
        if info.id in complete:
            continue
        try:
            result = sync_payout(info.id)
        except (payment_services.PaymentServiceUnavailable, PayoutNotFound):
            db.session.rollback()
            failed += 1
            continue
        db.session.commit()
        fetched += 1
        flagged += result.flag is not None
    report = f"{len(paid)} paid payout(s) seen, {fetched} fetched, {flagged} flagged"
    if failed:
        report += f", {failed} not fetched"
    return report


# -- reads ---------------------------------------------------------------------------------------


def payouts_query(*, flagged: bool = False) -> Select[Any]:
    """Payouts, latest arrival first (flagged ones only if asked)."""
    query = select(Payout)
    if flagged:
        query = query.where(Payout.flag.is_not(None))
    return query.order_by(Payout.arrival_date.desc().nulls_last(), Payout.id.desc())


def line_counts(payout_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """(lines, lines matched to the ledger) of each payout, in one query."""
    if not payout_ids:
        return {}
    rows = db.session.execute(
        select(PayoutLine.payout_id, func.count(PayoutLine.id), func.count(PayoutLine.payment_id))
        .where(PayoutLine.payout_id.in_(list(payout_ids)))
        .group_by(PayoutLine.payout_id)
    )
    return {payout_id: (int(count), int(hits or 0)) for payout_id, count, hits in rows}


@dataclass(frozen=True)
class LineView:
    """A payout line with the ledger row it matched (for the payout page)."""

    line: PayoutLine
    payer_name: str | None
    document_number: str | None


def payout_lines(payout_id: int) -> list[LineView]:
    """A payout's lines with their payment's payer and document number, in one query."""
    rows = db.session.execute(
        select(PayoutLine, Payment.payer_name, Payment.document_number)
        .outerjoin(Payment, Payment.id == PayoutLine.payment_id)
        .where(PayoutLine.payout_id == payout_id)
        .order_by(PayoutLine.id)
    )
    return [
        LineView(
            line=line,
            payer_name=payer,
            document_number=number,
        )
        for line, payer, number in rows
    ]

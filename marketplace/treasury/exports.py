"""Accounting exports, streamed: the payments CSV, and the helpers it shares with the FEC.

Both exports are generators over one SQL query read in batches (``yield_per``: a server-side
cursor on PostgreSQL), so memory and the number of queries stay the same whatever the ledger's
size, and there is no row cap. Each needs one more query for the chart of accounts.

CSV: semicolons (what Excel expects in a French locale, where the comma is the decimal mark),
UTF-8 with a byte-order mark, CRLF line ends, amounts with a decimal comma (and the currency's
own decimals) plus the same amount in minor units. One line per payment, one per Stripe fee
(negative), one per refund (negative), one per dispute's withdrawal and fee (negative) and
reinstatement, each with an accounting category and account number. Beside each line's own
amount and currency, ``amount_eur`` says what it moved in the Stripe balance in euros, as
Stripe settled it: the FEC's amounts, so the column adds up to the clearing account. Text
cells that a spreadsheet could read as a formula (starting with = + - @, a tab or a carriage
return) are prefixed with ``'`` (OWASP "CSV injection"); the amounts we format ourselves are
plain numbers and stay numeric.

The FEC file of a fiscal year is ``marketplace/treasury/fec.py``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, null, select

from marketplace.extensions import db
from marketplace.money import HOME_CURRENCY, from_minor, is_known
from marketplace.payments.document_models import Document
from marketplace.payments.document_series import ACCOUNTING_ZONE, DOCUMENT_STATUSES
from marketplace.payments.models import (
    Dispute,
    Payment,
    PaymentKind,
    PaymentStatus,
    Refund,
)
from marketplace.treasury import accounting
from marketplace.treasury.dashboard import booked_amount, booked_refund
from marketplace.treasury.services import ledger_filters

BATCH = 500  # rows read per round trip, and lines per chunk sent to the client

# --------------------------------------------------------------------------- shared helpers


def format_decimal(amount: int) -> str:
    """Minor units with a decimal comma, no thousands separator: -1234 → ``-12,34``."""
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount) // 100},{abs(amount) % 100:02d}"


def format_foreign(amount: int, currency: str) -> str:
    """Minor units of ``currency`` with its own decimals and a decimal comma (1500 JPY →
    ``1500``, 1500 USD → ``15,00``)."""
    if not is_known(currency):
        return format_decimal(amount)
    return str(from_minor(amount, currency)).replace(".", ",")


def local_day(moment: datetime | None) -> date | None:
    """The day of ``moment`` in the association's time zone."""
    return moment.astimezone(ACCOUNTING_ZONE).date() if moment is not None else None


# --------------------------------------------------------------------------- payments CSV

CSV_DELIMITER = ";"
CSV_COLUMNS = (
    "date",
    "line",
    "payment_id",
    "refund_id",
    "document",
    "kind",
    "status",
    "payer",
    "email",
    "description",
    "category",
    "account",
    "account_label",
    "amount",
    "amount_minor",
    "currency",
    "stripe_id",
    # What the line moved in the Stripe balance, in euros as Stripe settled it (the FEC's
    # amounts); empty for a payment that took no money or that Stripe has not settled yet.
    "amount_eur",
    "amount_eur_minor",
)
_NUMBER = re.compile(r"-?\d+(,\d+)?")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """A cell a spreadsheet will not run: formula-like text gets a leading ``'``."""
    text = "" if value is None else str(value)
    if _NUMBER.fullmatch(text):
        return text
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _money_received() -> Any:
    """A payment's euros in the Stripe balance: what it settled, for a payment that took money."""
    return case((Payment.status.in_(sorted(DOCUMENT_STATUSES)), booked_amount()), else_=null())


def _csv_query(
    *,
    start: date | None,
    end: date | None,
    kind: PaymentKind | None,
    status: PaymentStatus | None,
) -> Any:
    """Payments (filtered like the table) joined to their succeeded refunds, oldest first."""
    query = select(
        Payment.id,
        Payment.created_at,
        Payment.succeeded_at,
        Payment.kind,
        Payment.status,
        Payment.amount,
        Payment.currency,
        Payment.stripe_fee,
        Payment.settled_currency,
        Payment.payer_name,
        Payment.payer_email,
        Payment.description,
        Payment.document_number,
        Payment.stripe_charge_id,
        Payment.stripe_payment_intent_id,
        _money_received(),
        Refund.id,
        Refund.amount,
        Refund.created_at,
        Refund.stripe_refund_id,
        booked_refund(),
        Document.number,
    ).outerjoin(Refund, and_(Refund.payment_id == Payment.id, Refund.status == "succeeded"))
    # A refund's piece is the credit note (or corrected attestation) issued for it, as in the FEC.
    query = query.outerjoin(Document, Document.refund_id == Refund.id)
    query = ledger_filters(query, start=start, end=end, kind=kind, status=status)
    return query.order_by(Payment.created_at, Payment.id, Refund.id)


def _csv_dispute_query(
    *,
    start: date | None,
    end: date | None,
    kind: PaymentKind | None,
    status: PaymentStatus | None,
) -> Any:
    """The disputes of the same payments that moved money (withdrawn or reinstated)."""
    query = (
        select(
            Payment.id,
            Payment.kind,
            Payment.status,
            Payment.payer_name,
            Payment.payer_email,
            Payment.description,
            Payment.document_number,
            Dispute.stripe_dispute_id,
            Dispute.amount,
            Dispute.currency,
            Dispute.withdrawn_amount,
            Dispute.withdrawn_fee,
            Dispute.withdrawn_at,
            Dispute.reinstated_amount,
            Dispute.reinstated_fee,
            Dispute.reinstated_at,
        )
        .join(Payment, Payment.id == Dispute.payment_id)
        .where(Dispute.withdrawn_at.is_not(None))
    )
    query = ledger_filters(query, start=start, end=end, kind=kind, status=status)
    return query.order_by(Dispute.withdrawn_at, Dispute.id)


def payment_csv_lines(
    *,
    start: date | None = None,
    end: date | None = None,
    kind: PaymentKind | None = None,
    status: PaymentStatus | None = None,
) -> Iterator[list[str]]:
    """The CSV's lines (header first), read from the database in batches: each payment, its
    Stripe fee and refunds, then the disputes' withdrawals, fees and reinstatements."""
    chart = accounting.chart()
    fees = chart[accounting.STRIPE_FEES]
    yield list(CSV_COLUMNS)
    filters = {"start": start, "end": end, "kind": kind, "status": status}
    rows = db.session.execute(_csv_query(**filters).execution_options(yield_per=BATCH))
    previous_id = None
    for row in rows:
        (
            payment_id,
            created_at,
            succeeded_at,
            payment_kind,
            payment_status,
            amount,
            currency,
            fee,
            settled_currency,
            payer,
            email,
            description,
            number,
            charge_id,
            intent_id,
            received,
            refund_id,
            refund_amount,
            refunded_at,
            stripe_refund_id,
            refund_euros,
            refund_document,
        ) = row
        kind_value = PaymentKind(payment_kind).value
        revenue = chart[kind_value]
        common = _common(payment_id, payment_kind, payment_status, payer, email, description)
        common[1] = number or ""
        currency = currency.upper()
        if payment_id != previous_id:
            previous_id = payment_id
            day = local_day(succeeded_at or created_at)
            yield _csv_line(
                day,
                "payment",
                common,
                revenue,
                amount,
                currency,
                charge_id or intent_id,
                euros=received,
            )
            if fee:
                # Stripe's fee is in the currency it settled in (the euro), not the payment's.
                fee_currency = (settled_currency or HOME_CURRENCY).upper()
                yield _csv_line(
                    day, "stripe_fee", common, fees, -fee, fee_currency, charge_id, euros=-fee
                )
        if refund_id is not None:
            yield _csv_line(
                local_day(refunded_at),
                "refund",
                [str(refund_id), refund_document or common[1], *common[2:]],
                revenue,
                -refund_amount,
                currency,
                stripe_refund_id,
                euros=None if refund_euros is None else -refund_euros,
            )
    yield from _dispute_csv_lines(chart, filters)


def _common(
    payment_id: int, kind: Any, status: Any, payer: str, email: str | None, description: str
) -> list[str]:
    """The cells from ``refund_id`` to ``description`` (the first two empty), then the
    payment's id (``_csv_line`` puts it in its column)."""
    return [
        "",
        "",
        PaymentKind(kind).value,
        PaymentStatus(status).value,
        payer,
        email or "",
        description,
        str(payment_id),
    ]


def _dispute_csv_lines(
    chart: dict[str, accounting.Account], filters: dict[str, Any]
) -> Iterator[list[str]]:
    """A dispute's lines: funds withdrawn and the dispute fee, then what a won dispute gave
    back (as the FEC books them, on the days Stripe moved the money)."""
    disputes, fees = chart[accounting.DISPUTES], chart[accounting.STRIPE_FEES]
    rows = db.session.execute(_csv_dispute_query(**filters).execution_options(yield_per=BATCH))
    for row in rows:
        (
            payment_id,
            payment_kind,
            payment_status,
            payer,
            email,
            description,
            number,
            dispute_id,
            amount,
            currency,
            withdrawn,
            withdrawn_fee,
            withdrawn_at,
            reinstated,
            reinstated_fee,
            reinstated_at,
        ) = row
        common = _common(payment_id, payment_kind, payment_status, payer, email, description)
        common[1] = number or ""
        currency = currency.upper()
        day = local_day(withdrawn_at)
        yield _csv_line(
            day, "dispute", common, disputes, -amount, currency, dispute_id, euros=-withdrawn
        )
        if withdrawn_fee:
            yield _csv_line(
                day,
                "dispute_fee",
                common,
                fees,
                -withdrawn_fee,
                HOME_CURRENCY,
                dispute_id,
                euros=-withdrawn_fee,
            )
        if reinstated_at is not None and (reinstated or reinstated_fee):
            back = local_day(reinstated_at)
            yield _csv_line(
                back,
                "dispute_reinstated",
                common,
                disputes,
                amount,
                currency,
                dispute_id,
                euros=reinstated,
            )
            if reinstated_fee:
                # Stripe books a returned fee as a negative fee: it comes back to the balance.
                yield _csv_line(
                    back,
                    "dispute_fee_reinstated",
                    common,
                    fees,
                    -reinstated_fee,
                    HOME_CURRENCY,
                    dispute_id,
                    euros=-reinstated_fee,
                )


def _csv_line(
    day: date | None,
    line: str,
    common: list[str],
    account: accounting.Account,
    amount: int,
    currency: str,
    stripe_id: str | None,
    *,
    euros: int | None,
) -> list[str]:
    *cells, payment_id = common
    return [
        day.isoformat() if day else "",
        line,
        payment_id,
        *cells,
        account.key,
        account.number,
        account.label,
        format_foreign(amount, currency),
        str(amount),
        currency,
        stripe_id or "",
        "" if euros is None else format_decimal(euros),
        "" if euros is None else str(euros),
    ]


def stream_csv(lines: Iterable[list[str]]) -> Iterator[bytes]:
    """CSV bytes in chunks of ``BATCH`` lines: a UTF-8 byte-order mark first, for Excel."""
    yield "\ufeff".encode()
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=CSV_DELIMITER, lineterminator="\r\n")
    for count, line in enumerate(lines, start=1):
        writer.writerow([safe_cell(cell) for cell in line])
        if count % BATCH == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def csv_filename(start: date | None, end: date | None) -> str:
    return f"payments_{start or 'start'}_{end or 'end'}.csv"

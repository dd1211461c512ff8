"""Accounting exports, streamed: the payments CSV, and the helpers it shares with the FEC.

Both exports are generators over one SQL query read in batches (``yield_per``: a server-side
cursor on PostgreSQL), so memory and the number of queries stay the same whatever the ledger's
size, and there is no row cap. Each needs one more query for the chart of accounts.

CSV: semicolons (what Excel expects in a French locale, where the comma is the decimal mark),
UTF-8 with a byte-order mark, CRLF line ends, amounts with a decimal comma plus the same amount
in minor units. One line per payment, one per Stripe fee (negative), one per refund (negative),
each with an accounting category and account number. Text cells that a spreadsheet could read
as a formula (starting with = + - @, a tab or a carriage return) are prefixed with ``'``
(OWASP "CSV injection"); the amounts we format ourselves are plain numbers and stay numeric.

The FEC file of a fiscal year is ``marketplace/treasury/fec.py``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, select

from marketplace.extensions import db
from marketplace.money import from_minor, is_known
from marketplace.payments.documents import ACCOUNTING_ZONE
from marketplace.payments.models import (
    Payment,
    PaymentKind,
    PaymentStatus,
    Refund,
)
from marketplace.treasury import accounting
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
        Refund.id,
        Refund.amount,
        Refund.created_at,
        Refund.stripe_refund_id,
    ).outerjoin(Refund, and_(Refund.payment_id == Payment.id, Refund.status == "succeeded"))
    query = ledger_filters(query, start=start, end=end, kind=kind, status=status)
    return query.order_by(Payment.created_at, Payment.id, Refund.id)


def payment_csv_lines(
    *,
    start: date | None = None,
    end: date | None = None,
    kind: PaymentKind | None = None,
    status: PaymentStatus | None = None,
) -> Iterator[list[str]]:
    """The CSV's lines (header first), read from the database in batches."""
    chart = accounting.chart()
    fees = chart[accounting.STRIPE_FEES]
    yield list(CSV_COLUMNS)
    rows = db.session.execute(
        _csv_query(start=start, end=end, kind=kind, status=status).execution_options(
            yield_per=BATCH
        )
    )
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
            refund_id,
            refund_amount,
            refunded_at,
            stripe_refund_id,
        ) = row
        kind_value = PaymentKind(payment_kind).value
        revenue = chart[kind_value]
        number = number or ""
        common = [
            str(payment_id),
            "",
            number,
            kind_value,
            PaymentStatus(payment_status).value,
            payer,
            email or "",
            description,
        ]
        currency = currency.upper()
        if payment_id != previous_id:
            previous_id = payment_id
            day = local_day(succeeded_at or created_at)
            yield _csv_line(
                day, "payment", common, revenue, amount, currency, charge_id or intent_id
            )
            if fee:
                # Stripe's fee is in the currency it settled in (the euro), not the payment's.
                fee_currency = (settled_currency or currency).upper()
                yield _csv_line(day, "stripe_fee", common, fees, -fee, fee_currency, charge_id)
        if refund_id is not None:
            refund_common = [*common]
            refund_common[1] = str(refund_id)
            yield _csv_line(
                local_day(refunded_at),
                "refund",
                refund_common,
                revenue,
                -refund_amount,
                currency,
                stripe_refund_id,
            )


def _csv_line(
    day: date | None,
    line: str,
    common: list[str],
    account: accounting.Account,
    amount: int,
    currency: str,
    stripe_id: str | None,
) -> list[str]:
    return [
        day.isoformat() if day else "",
        line,
        *common,
        account.key,
        account.number,
        account.label,
        format_decimal(amount),
        str(amount),
        currency,
        stripe_id or "",
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

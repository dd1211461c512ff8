"""Accounting exports, streamed: the payments CSV and the French FEC file of a fiscal year.

Both are generators over SQL queries read in batches (``yield_per``: a server-side cursor on
PostgreSQL), so memory and the number of queries stay the same whatever the ledger's size, and
there is no row cap. Each needs one more query for the chart of accounts.

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

FEC (*fichier des écritures comptables*, article A47 A-1 of the *livre des procédures
fiscales*): the 18 columns in their order, ``|``-separated, dates ``YYYYMMDD``, amounts with a
decimal comma, ISO 8859-15 text (a character outside it becomes ``?``), entries in date order
numbered without gaps, each balanced:

- sale: debit the Stripe clearing account, credit the revenue account of the kind; the piece
  is the invoice (or attestation) number, the label names the company's legal name for a
  partner (the counterparty of its invoice), the payer for dues;
- Stripe fee: debit 627, credit the clearing account;
- refund: debit the revenue account, credit the clearing account; the piece is the credit
  note issued for it (or the corrected attestation of dues);
- dispute: funds withdrawn debit the disputes account, credit the clearing account, and
  the dispute fee debits 627; funds reinstated (a won dispute) do the opposite;
- payout (when known): debit the bank, credit the clearing account; a payout the bank sends
  back (``payout.failed``) is booked back the day it failed.

Every amount is in euros as Stripe settled it (the balance transactions), so the clearing
account moves exactly as the Stripe balance does and returns to zero once everything is paid
out. A payment (or refund, or dispute) in another currency also fills ``Montantdevise`` /
``Idevise`` with its own amount and currency; one Stripe has not settled yet is left out until
``payments reconcile`` reads its settlement. The fiscal year is the calendar year in
Europe/Paris.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer, String, and_, case, cast, func, literal, null, select, union_all
from sqlalchemy.orm import aliased

from marketplace.extensions import db
from marketplace.money import HOME_CURRENCY, from_minor, is_known
from marketplace.payments.document_models import Document
from marketplace.payments.documents import ACCOUNTING_ZONE, DOCUMENT_STATUSES
from marketplace.payments.models import (
    AssociationDetails,
    Dispute,
    Payment,
    PaymentKind,
    PaymentStatus,
    Refund,
)
from marketplace.treasury import accounting
from marketplace.treasury.dashboard import booked_amount, booked_refund
from marketplace.treasury.models import Payout
from marketplace.treasury.services import day_start, ledger_filters

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


# --------------------------------------------------------------------------- FEC

FEC_COLUMNS = (
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
)
FEC_SEPARATOR = "|"
FEC_ENCODING = "iso-8859-15"
SIREN_PLACEHOLDER = "000000000"

# (journal code, journal label) of each kind of entry.
JOURNALS = {
    "sale": ("VE", "Ventes et cotisations"),
    "refund": ("VE", "Ventes et cotisations"),
    "fee": ("ST", "Frais Stripe"),
    "dispute": ("ST", "Frais Stripe"),
    "dispute_fee": ("ST", "Frais Stripe"),
    "reinstated": ("ST", "Frais Stripe"),
    "reinstated_fee": ("ST", "Frais Stripe"),
    "payout": ("BQ", "Banque"),
    "payout_failed": ("BQ", "Banque"),
}
KIND_WORDS = {
    PaymentKind.MEMBERSHIP.value: "Cotisation",
    PaymentKind.PARTNER_PLAN.value: "Offre partenaire",
    PaymentKind.FEATURED.value: "Mise en avant",
}


@dataclass(frozen=True)
class FecEntry:
    """One balanced entry: a debit line and a credit line of the same amount (in euros);
    ``foreign`` is the amount in ``currency`` when that is not the euro."""

    entry: str
    moment: datetime
    debit: accounting.Account
    credit: accounting.Account
    amount: int
    currency: str
    piece: str
    label: str
    foreign: int | None = None


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    return day_start(date(year, 1, 1)), day_start(date(year + 1, 1, 1))


def last_fec_year() -> int | None:
    """The latest fiscal year with an entry (a sale, a refund or a payout), or None."""
    latest = [
        db.session.scalar(
            select(func.max(Payment.succeeded_at)).where(
                Payment.status.in_(sorted(DOCUMENT_STATUSES))
            )
        ),
        db.session.scalar(select(func.max(Refund.created_at)).where(Refund.status == "succeeded")),
        db.session.scalar(select(func.max(Payout.arrival_date))),
    ]
    moments = [moment for moment in latest if moment is not None]
    return max(moments).astimezone(ACCOUNTING_ZONE).year if moments else None


def _fec_query(year: int) -> Any:
    """The year's movements in date order: one UNION ALL of sales, fees, refunds, disputes and
    payouts, every amount in euros as Stripe settled it.

    Sales carry their invoice's (or attestation's) number and counterparty (the company's
    legal name for a partner); refunds the number of the credit note issued for them.
    """
    first, after = _year_bounds(year)

    def within(column: Any) -> Any:
        return and_(column >= first, column < after)

    paid = and_(
        Payment.status.in_(sorted(DOCUMENT_STATUSES)),
        within(Payment.succeeded_at),
        booked_amount().is_not(None),
    )
    # The payment's own document (invoice or attestation) names the counterparty.
    issued = aliased(Document)
    own_document = and_(
        issued.payment_id == Payment.id,
        issued.refund_id.is_(None),
        issued.number == Payment.document_number,
    )
    counterparty = func.coalesce(issued.counterparty, Payment.payer_name)

    def payment_part(entry: str, order: int, amount: Any, *where: Any) -> Any:
        return (
            select(
                Payment.succeeded_at.label("moment"),
                literal(order).label("position"),
                literal(entry).label("entry"),
                Payment.id.label("row_id"),
                cast(Payment.kind, String).label("kind"),
                amount.label("amount"),
                Payment.currency.label("currency"),
                Payment.amount.label("foreign"),
                counterparty.label("payer"),
                Payment.document_number.label("number"),
                cast(null(), String).label("credit_number"),
                Payment.stripe_charge_id.label("stripe_id"),
            )
            .outerjoin(issued, own_document)
            .where(paid, *where)
        )

    sales = payment_part("sale", 0, booked_amount())
    fees = payment_part("fee", 1, Payment.stripe_fee, Payment.stripe_fee > 0)
    credit = aliased(Document)
    refunds = (
        select(
            Refund.created_at.label("moment"),
            literal(2).label("position"),
            literal("refund").label("entry"),
            Refund.id.label("row_id"),
            cast(Payment.kind, String).label("kind"),
            booked_refund().label("amount"),
            Payment.currency.label("currency"),
            Refund.amount.label("foreign"),
            func.coalesce(credit.counterparty, Payment.payer_name).label("payer"),
            Payment.document_number.label("number"),
            credit.number.label("credit_number"),
            Refund.stripe_refund_id.label("stripe_id"),
        )
        .join(Payment, Payment.id == Refund.payment_id)
        .outerjoin(credit, credit.refund_id == Refund.id)
        .where(
            Refund.status == "succeeded",
            within(Refund.created_at),
            booked_refund().is_not(None),
        )
    )

    def dispute_part(entry: str, order: int, moment: Any, amount: Any, *where: Any) -> Any:
        return (
            select(
                moment.label("moment"),
                literal(order).label("position"),
                literal(entry).label("entry"),
                Dispute.id.label("row_id"),
                cast(Payment.kind, String).label("kind"),
                amount.label("amount"),
                Dispute.currency.label("currency"),
                Dispute.amount.label("foreign"),
                counterparty.label("payer"),
                Payment.document_number.label("number"),
                cast(null(), String).label("credit_number"),
                Dispute.stripe_dispute_id.label("stripe_id"),
            )
            .join(Payment, Payment.id == Dispute.payment_id)
            .outerjoin(issued, own_document)
            .where(within(moment), *where)
        )

    disputes = dispute_part(
        "dispute", 3, Dispute.withdrawn_at, Dispute.withdrawn_amount, Dispute.withdrawn_amount > 0
    )
    dispute_fees = dispute_part(
        "dispute_fee", 4, Dispute.withdrawn_at, Dispute.withdrawn_fee, Dispute.withdrawn_fee != 0
    )
    reinstated = dispute_part(
        "reinstated",
        5,
        Dispute.reinstated_at,
        Dispute.reinstated_amount,
        Dispute.reinstated_amount > 0,
    )
    reinstated_fees = dispute_part(
        "reinstated_fee",
        6,
        Dispute.reinstated_at,
        Dispute.reinstated_fee,
        Dispute.reinstated_fee != 0,
    )

    def payout_part(entry: str, order: int, moment: Any, *where: Any) -> Any:
        return select(
            moment.label("moment"),
            literal(order).label("position"),
            literal(entry).label("entry"),
            Payout.id.label("row_id"),
            cast(null(), String).label("kind"),
            Payout.amount.label("amount"),
            Payout.currency.label("currency"),
            cast(null(), Integer).label("foreign"),
            cast(null(), String).label("payer"),
            cast(null(), String).label("number"),
            cast(null(), String).label("credit_number"),
            Payout.stripe_payout_id.label("stripe_id"),
        ).where(within(moment), *where)

    payouts = payout_part("payout", 7, Payout.arrival_date, Payout.status.in_(("paid", "failed")))
    failed = payout_part("payout_failed", 8, Payout.failed_at, Payout.status == "failed")
    movements = union_all(
        sales,
        fees,
        refunds,
        disputes,
        dispute_fees,
        reinstated,
        reinstated_fees,
        payouts,
        failed,
    ).subquery()
    return select(movements).order_by(movements.c.moment, movements.c.position, movements.c.row_id)


def _kind_value(stored: str) -> str:
    """The kind as stored by the UNION (the enum's name, the column being a plain string)."""
    try:
        return PaymentKind[stored].value
    except KeyError:
        return PaymentKind(stored).value


def fec_entries(year: int) -> Iterator[FecEntry]:
    """The year's entries in date order, read in batches."""
    chart = accounting.chart()
    clearing = chart[accounting.STRIPE_CLEARING]
    bank = chart[accounting.BANK]
    stripe_fees = chart[accounting.STRIPE_FEES]
    lost = chart[accounting.DISPUTES]
    rows = db.session.execute(_fec_query(year).execution_options(yield_per=BATCH))
    for row in rows:
        currency = (row.currency or "eur").upper()
        amount = int(row.amount)
        foreign = (
            int(row.foreign) if row.foreign is not None and currency != HOME_CURRENCY else None
        )
        if row.entry in ("payout", "payout_failed"):
            debit, credit = (bank, clearing) if row.entry == "payout" else (clearing, bank)
            label = "Virement Stripe" if row.entry == "payout" else "Virement Stripe rejeté"
            yield FecEntry(
                row.entry,
                row.moment,
                debit,
                credit,
                amount,
                currency,
                row.stripe_id,
                f"{label} {row.stripe_id}",
            )
            continue
        kind = _kind_value(row.kind)
        revenue = chart[kind]
        who = KIND_WORDS.get(kind, kind)
        number = row.number or ""
        piece = number or f"P{row.row_id}"
        if row.entry == "sale":
            yield FecEntry(
                "sale",
                row.moment,
                clearing,
                revenue,
                amount,
                currency,
                piece,
                f"{who} {row.payer}",
                foreign,
            )
        elif row.entry == "fee":
            yield FecEntry(
                "fee",
                row.moment,
                stripe_fees,
                clearing,
                amount,
                "EUR",
                piece,
                f"Frais Stripe {piece}",
            )
        elif row.entry == "refund":
            credit_note = row.credit_number
            label = (
                f"Avoir {credit_note} sur {piece} {row.payer}"
                if credit_note and kind != PaymentKind.MEMBERSHIP.value
                else f"Remboursement {piece} {row.payer}"
            )
            yield FecEntry(
                "refund",
                row.moment,
                revenue,
                clearing,
                amount,
                currency,
                credit_note or f"R{row.row_id}",
                label,
                foreign,
            )
        elif row.entry in ("dispute", "reinstated"):
            debit, credit = (lost, clearing) if row.entry == "dispute" else (clearing, lost)
            word = "Litige" if row.entry == "dispute" else "Litige gagné"
            yield FecEntry(
                row.entry,
                row.moment,
                debit,
                credit,
                amount,
                currency,
                f"L{row.row_id}",
                f"{word} {row.stripe_id} {row.payer}",
                foreign,
            )
        else:  # a dispute fee, or a dispute fee given back (negative)
            fee_debit = (row.entry == "dispute_fee") == (amount > 0)
            debit, credit = (stripe_fees, clearing) if fee_debit else (clearing, stripe_fees)
            yield FecEntry(
                row.entry,
                row.moment,
                debit,
                credit,
                abs(amount),
                "EUR",
                f"L{row.row_id}",
                f"Frais de litige {row.stripe_id}",
            )


def _fec_text(value: str | None) -> str:
    """A field without the separator or line breaks."""
    return re.sub(r"[|\r\n\t]+", " ", value or "").strip()


def fec_lines(year: int) -> Iterator[list[str]]:
    """The FEC's lines (header first): two per entry, entries numbered 1, 2, 3..."""
    yield list(FEC_COLUMNS)
    for number, entry in enumerate(fec_entries(year), start=1):
        journal, journal_label = JOURNALS[entry.entry]
        day = local_day(entry.moment)
        stamp = day.strftime("%Y%m%d") if day else ""
        foreign = entry.foreign is not None and entry.currency != HOME_CURRENCY
        for account, debit, credit in (
            (entry.debit, entry.amount, 0),
            (entry.credit, 0, entry.amount),
        ):
            yield [
                journal,
                journal_label,
                str(number),
                stamp,
                _fec_text(account.number),
                _fec_text(account.label),
                "",
                "",
                _fec_text(entry.piece),
                stamp,
                _fec_text(entry.label)[:200],
                format_decimal(debit),
                format_decimal(credit),
                "",
                "",
                stamp,
                format_foreign(entry.foreign, entry.currency) if foreign else "",
                entry.currency if foreign else "",
            ]


def stream_fec(lines: Iterable[list[str]]) -> Iterator[bytes]:
    """FEC bytes in chunks of ``BATCH`` lines, CRLF line ends."""
    chunk: list[str] = []
    for line in lines:
        chunk.append(FEC_SEPARATOR.join(line))
        if len(chunk) == BATCH:
            yield ("\r\n".join(chunk) + "\r\n").encode(FEC_ENCODING, errors="replace")
            chunk = []
    if chunk:
        yield ("\r\n".join(chunk) + "\r\n").encode(FEC_ENCODING, errors="replace")


def siren() -> str:
    """The association's SIREN (the SIRET's first 9 digits), or a placeholder of 9 zeros."""
    siret = db.session.scalar(select(AssociationDetails.siret).order_by(AssociationDetails.id))
    digits = re.sub(r"\D", "", siret or "")
    return digits[:9] if len(digits) >= 9 else SIREN_PLACEHOLDER


def fec_filename(year: int) -> str:
    """``<SIREN>FEC<closing date>.txt``, the name the tax administration expects."""
    return f"{siren()}FEC{date(year, 12, 31):%Y%m%d}.txt"

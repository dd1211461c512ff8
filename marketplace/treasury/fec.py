"""The French FEC file of a fiscal year, streamed (the shared helpers are ``exports``).

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

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer, String, and_, cast, func, literal, null, select, union_all
from sqlalchemy.orm import aliased

from marketplace.extensions import db
from marketplace.money import HOME_CURRENCY
from marketplace.payments.document_models import Document
from marketplace.payments.document_series import ACCOUNTING_ZONE, DOCUMENT_STATUSES
from marketplace.payments.models import (
    AssociationDetails,
    Dispute,
    Payment,
    PaymentKind,
    Refund,
)
from marketplace.treasury import accounting
from marketplace.treasury.dashboard import booked_amount, booked_refund
from marketplace.treasury.exports import BATCH, format_decimal, format_foreign, local_day
from marketplace.treasury.models import Payout
from marketplace.treasury.services import day_start

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

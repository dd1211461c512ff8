"""Payment documents: gap-free yearly numbers and the PDF (payment attestation or invoice).

French law shapes the wording: membership dues that bring a counterpart (the partners'
discounts) are not gifts, so they get an *attestation de paiement*, never a *reçu fiscal*;
a partner paying for visibility is sponsorship (*parrainage*), which needs an invoice.
French is the legal language of the documents; English labels stand beside it.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from fpdf import FPDF
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.models import Membership
from marketplace.money import format_money
from marketplace.payments.models import (
    AssociationDetails,
    DocumentCounter,
    Payment,
    PaymentKind,
    PaymentStatus,
)

logger = logging.getLogger(__name__)

# The association keeps its books in French time: a payment at 23:30 UTC on 31 December
# belongs to the next year's numbering.
ACCOUNTING_ZONE = ZoneInfo("Europe/Paris")

# Statuses of a payment that was once paid, hence has (or will have) a document.
DOCUMENT_STATUSES = frozenset(
    {
        PaymentStatus.SUCCEEDED,
        PaymentStatus.PARTIALLY_REFUNDED,
        PaymentStatus.REFUNDED,
        PaymentStatus.DISPUTED,
    }
)

# Printed when the association set no VAT mention (associations under the VAT threshold).
DEFAULT_VAT_NOTE = "TVA non applicable, art. 293 B du CGI"


def accounting_year(moment: datetime) -> int:
    """The accounting year of a moment (Europe/Paris)."""
    return moment.astimezone(ACCOUNTING_ZONE).year


def next_document_sequence(session: Session, year: int) -> int:
    """Increment the counter of ``year`` and return the new value (one UPSERT ... RETURNING).

    The UPSERT leaves the counter row locked until the transaction ends (PostgreSQL), and
    SQLite writes under ``BEGIN IMMEDIATE``: a rolled-back transaction gives its number back,
    so the sequence has no gap.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = DocumentCounter.__table__
    statement = (
        insert(table)
        .values(year=year, last_sequence=1)
        .on_conflict_do_update(
            index_elements=[table.c.year],
            set_={"last_sequence": table.c.last_sequence + 1},
        )
        .returning(table.c.last_sequence)
    )
    return int(session.execute(statement).scalar_one())


def assign_document_number(payment: Payment) -> str:
    """Give a succeeded payment its yearly number (``2026-000123``); a numbered one keeps it."""
    if payment.document_number is not None:
        return payment.document_number
    year = accounting_year(payment.succeeded_at or utcnow())
    payment.document_year = year
    payment.document_sequence = next_document_sequence(db.session, year)
    db.session.flush()
    logger.info("payment %s numbered %s", payment.id, payment.document_number)
    return payment.document_number  # type: ignore[return-value]


def has_document(payment: Payment) -> bool:
    """Whether the payment has a downloadable document."""
    return payment.status in DOCUMENT_STATUSES and payment.document_number is not None


def document_filename(payment: Payment) -> str:
    """``attestation-2026-000123.pdf`` for dues, ``facture-2026-000123.pdf`` otherwise."""
    prefix = "attestation" if payment.kind == PaymentKind.MEMBERSHIP else "facture"
    return f"{prefix}-{payment.document_number}.pdf"


# ---------------------------------------------------------------- content


@dataclass(frozen=True)
class Buyer:
    """Who the document is addressed to."""

    name: str
    lines: tuple[str, ...]


def association_details() -> AssociationDetails | None:
    """The association's identity (one row, edited by admins)."""
    return db.session.scalar(select(AssociationDetails).order_by(AssociationDetails.id).limit(1))


def _partner_buyer(payment: Payment) -> Buyer | None:
    """The partner company of a partner payment, read from its table.

    The core does not import the partners package (dependencies point one way), so the row
    is read through the table the package registered on the shared metadata.
    """
    table = db.metadata.tables.get("partners")
    if payment.partner_id is None or table is None:
        return None
    row = db.session.execute(
        select(table.c.name, table.c.country, table.c.contact_name, table.c.contact_email).where(
            table.c.id == payment.partner_id
        )
    ).first()
    if row is None:
        return None
    lines = tuple(
        line
        for line in (
            f"Pays / Country : {row.country}",
            f"Contact : {row.contact_name} <{row.contact_email}>",
        )
        if line
    )
    return Buyer(name=row.name, lines=lines)


def _membership_period(payment: Payment) -> tuple[date, date] | None:
    membership = db.session.scalar(select(Membership).where(Membership.payment_id == payment.id))
    if membership is None:
        return None
    return membership.starts_on, membership.ends_on


# What a payment of each kind paid for, as days (start, end exclusive), printed on its
# document. Domains register theirs (partners: the partnership; offers: the placement).
_SERVICE_PERIODS: dict[PaymentKind, Callable[[Payment], tuple[date, date] | None]] = {
    PaymentKind.MEMBERSHIP: _membership_period,
}


def register_service_period(
    kind: PaymentKind, period: Callable[[Payment], tuple[date, date] | None]
) -> None:
    """Say how to find the period a payment of ``kind`` paid for (None: not delivered)."""
    _SERVICE_PERIODS[PaymentKind(kind)] = period


def service_period(payment: Payment) -> tuple[date, date] | None:
    find = _SERVICE_PERIODS.get(payment.kind)
    return find(payment) if find is not None else None


def _day(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(ACCOUNTING_ZONE).date()
    return value.strftime("%d/%m/%Y")


def _printable(text: str | None) -> str:
    """Text the PDF core fonts can draw (windows-1252): other letters lose their accents."""
    out = []
    for char in text or "":
        try:
            char.encode("cp1252")
            out.append(char)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char).encode("cp1252", "ignore").decode("cp1252")
            out.append(base or "?")
    return "".join(out)


class _Document(FPDF):
    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=8)
        self.set_text_color(110)
        self.cell(0, 8, f"Page {self.page_no()}/{{nb}}", align="C")


def render_document_pdf(payment: Payment, *, compress: bool = True) -> bytes:
    """The PDF of a numbered payment: an attestation for dues, an invoice for partners."""
    if payment.document_number is None:
        raise ValueError(f"payment {payment.id} has no document number")
    details = association_details()
    membership = payment.kind == PaymentKind.MEMBERSHIP

    pdf = _Document(format="A4")
    pdf.core_fonts_encoding = "windows-1252"  # the euro sign and French letters
    pdf.set_compression(compress)
    pdf.set_title(_printable(f"{document_filename(payment)}"))
    pdf.set_author(_printable(details.name if details else "Association"))
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()

    def write(text: str, *, size: int = 10, style: str = "", height: float = 5.5) -> None:
        pdf.set_font("Helvetica", style=style, size=size)
        pdf.multi_cell(0, height, _printable(text), new_x="LMARGIN", new_y="NEXT")

    def label_value(label: str, value: str) -> None:
        pdf.set_font("Helvetica", style="B", size=10)
        pdf.cell(60, 6, _printable(label))
        pdf.set_font("Helvetica", size=10)
        pdf.multi_cell(0, 6, _printable(value), new_x="LMARGIN", new_y="NEXT")

    # The seller / issuer.
    if details is not None:
        write(details.name, size=13, style="B", height=6.5)
        write(details.address)
        if details.siret:
            write(f"SIRET : {details.siret}")
        if details.rna:
            write(f"RNA : {details.rna}")
        if details.email:
            write(details.email)
    else:
        write("Association", size=13, style="B")
    pdf.ln(8)

    title = "Attestation de paiement / Payment attestation" if membership else "Facture / Invoice"
    write(title, size=16, style="B", height=8)
    pdf.ln(2)
    label_value("N° / Number", payment.document_number)
    label_value("Date", _day(payment.succeeded_at or payment.created_at))
    pdf.ln(4)

    # The payer, or for an invoice the buyer (the partner company).
    buyer = None if membership else _partner_buyer(payment)
    if buyer is not None:
        write("Client / Customer", style="B")
        write(buyer.name)
        for line in buyer.lines:
            write(line)
        write(f"Commande passée par / Ordered by : {payment.payer_name}")
    else:
        write("Payeur / Payer", style="B")
        write(payment.payer_name)
        if payment.payer_email:
            write(payment.payer_email)
    pdf.ln(4)

    # The line.
    if membership:
        description = f"Cotisation / Membership dues : {payment.description}"
    else:
        description = f"Parrainage (prestation de visibilité) / Sponsorship : {payment.description}"
    label_value("Désignation / Item", description)
    period = service_period(payment)
    if period is not None:
        label_value("Période / Period", f"{_day(period[0])} - {_day(period[1])}")
    amount = format_money(payment.amount, payment.currency, locale="fr")
    if membership:
        label_value("Montant réglé / Amount paid", amount)
    else:
        label_value("Total HT / Net total", amount)
        label_value("Total TTC / Total", amount)
        write((details.vat_note if details and details.vat_note else DEFAULT_VAT_NOTE), size=9)
        label_value("Réglé le / Paid on", _day(payment.succeeded_at))
    label_value("Moyen de paiement / Method", "Carte bancaire / Card (Stripe)")
    if payment.refunded_amount:
        label_value(
            "Remboursé / Refunded",
            format_money(payment.refunded_amount, payment.currency, locale="fr"),
        )
    pdf.ln(6)

    if membership:
        write(
            "Cette cotisation donne accès à des contreparties (offres réservées aux membres, "
            "réductions des partenaires) : elle ne constitue pas un don et n'ouvre pas droit "
            "à un reçu fiscal ni à la réduction d'impôt des articles 200 et 238 bis du CGI.",
            size=9,
        )
        write(
            "These dues bring a counterpart (members-only offers, partner discounts): they "
            "are not a donation and are not eligible for a tax receipt (reçu fiscal).",
            size=9,
        )
    else:
        write(
            "Prestation de parrainage : la visibilité accordée au partenaire est une "
            "contrepartie, cette somme n'est pas un don (pas de reçu fiscal).",
            size=9,
        )
        write(
            "Sponsorship (parrainage): the visibility given to the partner is a service; "
            "this is not a donation.",
            size=9,
        )
    return bytes(pdf.output())

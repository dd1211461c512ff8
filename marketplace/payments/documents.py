"""Payment documents: issued once, frozen, numbered gap-free per year in their own series.

- A succeeded partner payment gets an **invoice** (series ``F``), a Factur-X EN 16931 PDF/A-3
  carrying every mention of Code de commerce L441-9 / L441-10; membership dues get a
  **payment attestation** (series ``AT``): dues that bring a counterpart (the partners'
  discounts) are not gifts, so never a *reçu fiscal*; a partner paying for visibility is
  sponsorship (*parrainage*), which needs an invoice.
- Every refund, full or partial, gets a **credit note** (series ``AV``) referencing the
  invoice, sent to the partner's team; a refunded membership gets a corrected attestation.
- A document is issued in the transaction that succeeds the payment (or records the refund):
  its number is taken there (a rolled-back transaction gives it back), and its snapshot, PDF
  and XML are stored then. Every download returns the stored bytes; later changes to the
  association's or the partner's details reach only documents issued afterwards.

The core does not import the domain packages: they register what they know (the period a
payment paid for, its designation, the buyer's billing identity, the partner's team).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import exists, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.i18n import N_, localized
from marketplace.membership.models import Membership, MembershipTier
from marketplace.notifications.services import queue_mail
from marketplace.payments import document_pdf, facturx
from marketplace.payments.document_models import (
    LEGACY_SERIES,
    SERIES,
    Document,
    DocumentCounter,
    DocumentKind,
)
from marketplace.payments.models import (
    AssociationDetails,
    Payment,
    PaymentKind,
    PaymentStatus,
    Refund,
)
from marketplace.tasks import site_request_context

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
FRANCHISE_MENTION = "TVA non applicable, art. 293 B du CGI"
DEFAULT_VAT_RATE = 2000  # 20 %, the standard French rate (basis points)
PDF_TYPE = "application/pdf"
COUNTER_LOCK_TIMEOUT = "20s"
BATCH = 200  # documents a due task issues or freezes per run
LANGUAGES = ("fr", "en")


def accounting_year(moment: datetime) -> int:
    """The accounting year of a moment (Europe/Paris)."""
    return moment.astimezone(ACCOUNTING_ZONE).year


def local_date(moment: datetime) -> date:
    """The day of ``moment`` in the association's time zone."""
    return moment.astimezone(ACCOUNTING_ZONE).date()


# ---------------------------------------------------------------- numbering


def next_document_sequence(session: Session, series: str, year: int) -> int:
    """Increment the counter of ``series`` in ``year``; the new value (one UPSERT … RETURNING).

    The UPSERT leaves the counter row locked until the transaction ends (PostgreSQL), and
    SQLite writes under ``BEGIN IMMEDIATE``: a rolled-back transaction gives its number back,
    so each series has no gap.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = DocumentCounter.__table__
    if dialect == "postgresql":
        # Transactions issuing in the same series queue on the counter row, each holding it
        # while its document is drawn (a fraction of a second): a longer wait than the payment
        # row's 5 s is productive here, and stays bounded. The caller's timeout comes back after.
        previous = session.execute(text("SHOW lock_timeout")).scalar_one()
        session.execute(text(f"SET LOCAL lock_timeout = '{COUNTER_LOCK_TIMEOUT}'"))
    statement = (
        insert(table)
        .values(series=series, year=year, last_sequence=1)
        .on_conflict_do_update(
            index_elements=[table.c.series, table.c.year],
            set_={"last_sequence": table.c.last_sequence + 1},
        )
        .returning(table.c.last_sequence)
    )
    sequence = int(session.execute(statement).scalar_one())
    if dialect == "postgresql":
        session.execute(
            text("SELECT set_config('lock_timeout', :value, true)"), {"value": previous}
        )
    return sequence


def format_number(series: str, year: int, sequence: int) -> str:
    """``F-2026-000123``; a legacy number reads ``2026-000123``."""
    if series == LEGACY_SERIES:
        return f"{year}-{sequence:06d}"
    return f"{series}-{year}-{sequence:06d}"


# ---------------------------------------------------------------- what domains register

Period = tuple[date, date]
_SERVICE_PERIODS: dict[PaymentKind, Callable[[Payment], Period | None]] = {}
_DESIGNATIONS: dict[PaymentKind, Callable[[Payment], str]] = {}
_buyer_of: list[Callable[[Payment], dict[str, Any] | None]] = []
_team_of: list[Callable[[Payment], list[tuple[str, str]]]] = []


def register_service_period(kind: PaymentKind, period: Callable[[Payment], Period | None]) -> None:
    """Say how to find the days (start, end exclusive) a payment of ``kind`` paid for."""
    _SERVICE_PERIODS[PaymentKind(kind)] = period


def register_designation(kind: PaymentKind, designation: Callable[[Payment], str]) -> None:
    """Say how to name what a payment of ``kind`` bought (called in the document's language)."""
    _DESIGNATIONS[PaymentKind(kind)] = designation


def register_partner_billing(
    *,
    buyer: Callable[[Payment], dict[str, Any] | None],
    team: Callable[[Payment], list[tuple[str, str]]],
) -> None:
    """The partners package: the buyer of a partner payment (its billing identity, as a dict of
    ``name, address_lines, postal_code, city, country, siren, siret, vat_number, po_reference,
    email``) and the (e-mail, language) of the team members who receive its credit notes."""
    _buyer_of[:] = [buyer]
    _team_of[:] = [team]


def service_period(payment: Payment) -> Period | None:
    """The days (start, end exclusive) the payment paid for, or None."""
    find = _SERVICE_PERIODS.get(payment.kind)
    return find(payment) if find is not None else None


def _membership_period(payment: Payment) -> Period | None:
    membership = db.session.scalar(select(Membership).where(Membership.payment_id == payment.id))
    if membership is None:
        return None
    return membership.starts_on, membership.ends_on


def _membership_designation(payment: Payment) -> str:
    tier = db.session.scalar(
        select(MembershipTier).where(MembershipTier.code == (payment.subject or {}).get("tier"))
    )
    if tier is not None:
        name = localized(tier, "name") or tier.code
    else:
        name = str((payment.subject or {}).get("tier") or payment.description)
    return _("Membership dues, %(tier)s", tier=name)


register_service_period(PaymentKind.MEMBERSHIP, _membership_period)
register_designation(PaymentKind.MEMBERSHIP, _membership_designation)


# ---------------------------------------------------------------- formatting (pages, mails)


# ---------------------------------------------------------------- snapshots


def association_details() -> AssociationDetails | None:
    """The association's identity (one row, edited by admins)."""
    return db.session.scalar(select(AssociationDetails).order_by(AssociationDetails.id).limit(1))


def _country_name(code: str | None, language: str) -> str | None:
    if not code:
        return None
    return Locale.parse(language).territories.get(code.upper(), code.upper())


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _seller(details: AssociationDetails | None, language: str) -> dict[str, Any]:
    if details is None:
        return {"name": "Association", "address_lines": [], "country": "FR"}
    digits = "".join(char for char in details.siret or "" if char.isdigit())
    return {
        "name": details.name,
        "address_lines": _lines(details.address),
        "postal_code": details.postal_code,
        "city": details.city,
        "country": (details.country or "FR").upper(),
        "country_name": _country_name(details.country, language),
        "siret": digits if len(digits) == 14 else None,
        "siren": digits[:9] if len(digits) >= 9 else None,
        "rna": details.rna,
        "email": details.email,
        "vat_number": details.vat_number,
    }


def _vat(kind: PaymentKind, details: AssociationDetails | None) -> dict[str, Any]:
    """The VAT of a sale of ``kind``: the franchise (exempt) or the kind's rate."""
    if details is None or details.vat_regime != "vat":
        return {"regime": "franchise", "category": "E", "rate_bp": 0, "mention": FRANCHISE_MENTION}
    rate = {
        PaymentKind.PARTNER_PLAN: details.vat_rate_partner_plan,
        PaymentKind.FEATURED: details.vat_rate_featured,
    }.get(kind)
    return {
        "regime": "vat",
        "category": "S",
        "rate_bp": DEFAULT_VAT_RATE if rate is None else rate,
        "mention": None,
    }


def split_gross(gross: int, rate_bp: int) -> tuple[int, int]:
    """(net, VAT) of an amount tax included: prices are shown and charged tax included."""
    net = (gross * 10000 * 2 + (10000 + rate_bp)) // ((10000 + rate_bp) * 2)
    return net, gross - net


def _buyer(payment: Payment, language: str) -> dict[str, Any]:
    found = _buyer_of[0](payment) if _buyer_of else None
    buyer = dict(found) if found else {"name": payment.payer_name or "—", "country": "FR"}
    if payment.payer_email and not buyer.get("email"):
        buyer["email"] = payment.payer_email
    buyer["country_name"] = _country_name(buyer.get("country"), language)
    return buyer


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _inclusive(period: Period | None) -> list[str] | None:
    """A (start, end exclusive) period as the [first, last] days it covers."""
    if period is None:
        return None
    start, end = period
    return [start.isoformat(), max(start, end - timedelta(days=1)).isoformat()]


def _legal_notes(vat: dict[str, Any], buyer: dict[str, Any]) -> list[dict[str, Any]]:
    """The mentions of Code de commerce L441-9 / L441-10 and the VAT mention, with the subject
    codes the French CTC schematron asks for (PMD, PMT, AAB; BAR for the kind of buyer)."""
    notes = [
        {
            "code": "PMD",
            "text": _(
                "Late-payment penalties: the European Central Bank's rate for its latest "
                "refinancing operation plus 10 percentage points (art. L441-10 of the French "
                "Commercial Code); this invoice was paid when ordered."
            ),
        },
        {
            "code": "PMT",
            "text": _(
                "Fixed indemnity for recovery costs in case of late payment: 40 € (art. L441-10 "
                "and D441-5 of the French Commercial Code)."
            ),
        },
        {"code": "AAB", "text": _("No discount for early payment.")},
    ]
    if vat["mention"]:
        notes.append({"code": None, "text": vat["mention"]})
    notes.append(
        {
            "code": None,
            "text": _(
                "Sponsorship (parrainage): the visibility given to the partner is a service, "
                "this sum is not a donation and gives no tax receipt."
            ),
        }
    )
    scope = "B2B" if (buyer.get("country") or "FR") == "FR" and buyer.get("siren") else "B2BINT"
    notes.append({"code": "BAR", "text": scope, "hidden": True})
    return notes


def _language(payment: Payment) -> str:
    payer = db.session.get(User, payment.payer_id) if payment.payer_id else None
    language = payer.locale if payer is not None else "fr"
    return language if language in LANGUAGES else "fr"


def _designation(payment: Payment) -> str:
    describe = _DESIGNATIONS.get(payment.kind)
    return describe(payment) if describe is not None else payment.description


def invoice_snapshot(payment: Payment, *, number: str, issued_on: date, language: str) -> dict:
    """What an invoice says, in ``language``, from today's details and the payment."""
    details = association_details()
    with force_locale(language):
        vat = _vat(payment.kind, details)
        buyer = _buyer(payment, language)
        net, tax = split_gross(payment.amount, vat["rate_bp"])
        paid_on = local_date(payment.succeeded_at or utcnow())
        period = _inclusive(service_period(payment))
        return {
            "kind": DocumentKind.INVOICE.value,
            "title": _("Invoice"),
            "number": number,
            "issued_on": issued_on.isoformat(),
            "language": language,
            "currency": payment.currency.upper(),
            "seller": _seller(details, language),
            "buyer": buyer,
            "lines": [
                {
                    "designation": _designation(payment),
                    "quantity": "1",
                    "unit_net": net,
                    "net": net,
                    "vat_rate_bp": vat["rate_bp"],
                    "vat": tax,
                    "period": period,
                }
            ],
            "vat": vat,
            "totals": {
                "net": net,
                "vat": tax,
                "gross": payment.amount,
                "paid": payment.amount,
                "due": 0,
            },
            "period": period,
            "delivered_on": None if period else paid_on.isoformat(),
            "paid_on": paid_on.isoformat(),
            "due_on": paid_on.isoformat(),
            "payment_terms": _("Paid by bank card when ordered."),
            "notes": _legal_notes(vat, buyer),
        }


def credit_note_snapshot(
    refund: Refund, invoice: Document, *, number: str, issued_on: date
) -> dict:
    """A credit note for ``refund``, in the invoice's language, referencing the invoice."""
    payment = refund.payment
    details = association_details()
    source = invoice.snapshot or invoice_snapshot(
        payment,
        number=invoice.number,
        issued_on=local_date(invoice.issued_at),
        language=invoice.language,
    )
    language = source["language"]
    with force_locale(language):
        vat = source["vat"]
        net, tax = split_gross(refund.amount, vat["rate_bp"])
        refunded_on = local_date(refund.created_at or utcnow()).isoformat()
        full = refund.amount >= payment.amount
        what = source["lines"][0]["designation"]
        designation = (
            _("Refund of invoice %(number)s: %(what)s", number=invoice.number, what=what)
            if full
            else _(
                "Partial refund of invoice %(number)s: %(what)s", number=invoice.number, what=what
            )
        )
        return {
            "kind": DocumentKind.CREDIT_NOTE.value,
            "title": _("Credit note"),
            "number": number,
            "issued_on": issued_on.isoformat(),
            "language": language,
            "currency": source["currency"],
            "seller": _seller(details, language),
            "buyer": source["buyer"],
            "lines": [
                {
                    "designation": designation,
                    "quantity": "1",
                    "unit_net": net,
                    "net": net,
                    "vat_rate_bp": vat["rate_bp"],
                    "vat": tax,
                    "period": None,
                }
            ],
            "vat": vat,
            "totals": {
                "net": net,
                "vat": tax,
                "gross": refund.amount,
                "paid": refund.amount,
                "due": 0,
            },
            "period": None,
            "delivered_on": source.get("delivered_on") or source["paid_on"],
            "paid_on": refunded_on,
            "due_on": refunded_on,
            "payment_terms": _("Refunded to the bank card used for the payment."),
            "corrects": {
                "number": invoice.number,
                "issued_on": local_date(invoice.issued_at).isoformat(),
            },
            "notes": _legal_notes(vat, source["buyer"]),
        }


def attestation_snapshot(
    payment: Payment,
    *,
    number: str,
    issued_on: date,
    language: str,
    corrects: Document | None = None,
) -> dict:
    """A payment attestation of membership dues (corrected after a refund when ``corrects``)."""
    details = association_details()
    with force_locale(language):
        period = service_period(payment)
        return {
            "kind": DocumentKind.ATTESTATION.value,
            "title": _("Corrected payment attestation") if corrects else _("Payment attestation"),
            "number": number,
            "issued_on": issued_on.isoformat(),
            "language": language,
            "currency": payment.currency.upper(),
            "seller": _seller(details, language),
            "buyer": None,
            "payer": {"name": payment.payer_name or "—", "email": payment.payer_email},
            "attestation": {
                "tier_name": _designation(payment),
                "period": _inclusive(period),
                "ended": period is None and payment.refunded_amount > 0,
                "paid": payment.amount,
                "refunded": payment.refunded_amount,
            },
            "paid_on": local_date(payment.succeeded_at or utcnow()).isoformat(),
            "corrects": (
                {"number": corrects.number, "issued_on": local_date(corrects.issued_at).isoformat()}
                if corrects is not None
                else None
            ),
            "notes": [
                {
                    "code": None,
                    "text": _(
                        "These dues bring a counterpart (members-only offers, partner "
                        "discounts): they are not a donation and are not eligible for a tax "
                        "receipt (reçu fiscal) nor for the tax reduction of articles 200 and "
                        "238 bis of the French tax code."
                    ),
                }
            ],
        }


# ---------------------------------------------------------------- rendering and storing


def _visible(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The snapshot as printed: the notes meant only for the XML left out."""
    return {**snapshot, "notes": [n for n in snapshot.get("notes", []) if not n.get("hidden")]}


def render(snapshot: dict[str, Any]) -> tuple[bytes, bytes | None]:
    """(PDF, XML) of a snapshot: invoices and credit notes are Factur-X (XML embedded).

    Factur-X identifies the seller by its SIREN: while the association's SIRET is not set
    (admin, association details), invoices are PDF/A without the XML, and a warning says so.
    """
    pdf = document_pdf.render(_visible(snapshot))
    if snapshot["kind"] == DocumentKind.ATTESTATION.value:
        return pdf, None
    if not snapshot["seller"].get("siren"):
        logger.warning(
            "%s issued without Factur-X XML: the association's SIRET is not set",
            snapshot["number"],
        )
        return pdf, None
    xml = facturx.build_xml(snapshot)
    return facturx.embed(pdf, xml, snapshot), xml


def _store(
    document: Document, snapshot: dict[str, Any], files: tuple[bytes, bytes | None] | None = None
) -> None:
    document.snapshot = snapshot
    document.pdf, document.xml = files or render(snapshot)
    document.sha256 = hashlib.sha256(document.pdf).hexdigest()


def _predicted_sequence(series: str, year: int) -> int:
    """The number the counter would give now (read without a lock: a guess)."""
    last = db.session.scalar(
        select(DocumentCounter.last_sequence).where(
            DocumentCounter.series == series, DocumentCounter.year == year
        )
    )
    return (last or 0) + 1


# Listing documents reads their numbers, not their stored files.
_WITHOUT_FILES = (defer(Document.pdf), defer(Document.xml), defer(Document.snapshot))


def _counterparty(snapshot: dict[str, Any]) -> str:
    party = snapshot.get("buyer") or snapshot.get("payer") or {}
    return party.get("name") or "—"


def _issue(
    kind: DocumentKind,
    payment: Payment,
    build: Callable[[str, date], dict[str, Any]],
    *,
    refund: Refund | None = None,
    corrects: Document | None = None,
    total: int,
    at: datetime | None = None,
) -> Document:
    """Take the next number of ``kind``'s series, build, render and store the document.

    The counter row stays locked from the number's taking to the commit (gap-free), so the
    document is drawn first with the number the counter predicts, outside that lock; it is
    drawn again under the lock only when a concurrent issue took that number meanwhile.
    """
    now = at or utcnow()
    series = SERIES[kind]
    year = accounting_year(now)
    predicted = _predicted_sequence(series, year)
    snapshot = build(format_number(series, year, predicted), local_date(now))
    files = render(snapshot)
    sequence = next_document_sequence(db.session, series, year)
    number = format_number(series, year, sequence)
    if sequence != predicted:
        snapshot = build(number, local_date(now))
        files = render(snapshot)
    document = Document(
        kind=kind,
        series=series,
        year=year,
        sequence=sequence,
        number=number,
        payment_id=payment.id,
        refund_id=refund.id if refund is not None else None,
        corrects_id=corrects.id if corrects is not None else None,
        issued_at=now,
        language=snapshot["language"],
        currency=snapshot["currency"],
        total=total,
        counterparty=_counterparty(snapshot)[:200],
    )
    _store(document, snapshot, files)
    db.session.add(document)
    db.session.flush()
    logger.info("payment %s: %s %s issued", payment.id, kind.value, number)
    return document


def main_document(payment: Payment) -> Document | None:
    """The payment's invoice or attestation (the first one issued for it); its files are read
    when first used."""
    return db.session.scalar(
        select(Document)
        .where(
            Document.payment_id == payment.id,
            Document.refund_id.is_(None),
            Document.kind.in_((DocumentKind.INVOICE, DocumentKind.ATTESTATION)),
        )
        .order_by(Document.id)
        .limit(1)
        .options(*_WITHOUT_FILES)
    )


def issue_payment_document(payment: Payment, *, at: datetime | None = None) -> Document | None:
    """Issue the document of a succeeded payment, once: its invoice or attestation, e-mailed
    (attached) to the partner's team or the member. Flush only; ``at``: the moment of issue.

    A second issue of the same payment's document breaks the unique index of its main
    document: the caller's transaction (and the number it took) is rolled back.
    """
    if payment.status not in DOCUMENT_STATUSES:
        return None
    existing = main_document(payment)
    if existing is not None:
        return existing
    language = _language(payment)
    if payment.kind == PaymentKind.MEMBERSHIP:
        document = _issue(
            DocumentKind.ATTESTATION,
            payment,
            lambda number, today: attestation_snapshot(
                payment, number=number, issued_on=today, language=language
            ),
            total=payment.amount,
            at=at,
        )
    else:
        document = _issue(
            DocumentKind.INVOICE,
            payment,
            lambda number, today: invoice_snapshot(
                payment, number=number, issued_on=today, language=language
            ),
            total=payment.amount,
            at=at,
        )
    payment.document_number = document.number
    db.session.flush()
    if payment.kind == PaymentKind.MEMBERSHIP:
        recipients = [(payment.payer_email, document.language)] if payment.payer_email else []
    else:
        recipients = _recipients_of_partner_documents(payment, document)
    _mail(document, recipients)
    return document


def issue_refund_document(refund: Refund, *, at: datetime | None = None) -> Document | None:
    """Issue the document of a recorded refund, once: a credit note referencing the invoice,
    sent to the partner's team; for dues, a corrected attestation sent to the payer. Flush
    only (a second issue breaks the unique ``refund_id`` and is rolled back)."""
    if refund.status != "succeeded":
        return None
    existing = db.session.scalar(select(Document).where(Document.refund_id == refund.id))
    if existing is not None:
        return existing
    payment = refund.payment
    original = main_document(payment)
    if original is None:
        logger.warning("refund %s: payment %s has no document to correct", refund.id, payment.id)
        return None
    if payment.kind == PaymentKind.MEMBERSHIP:
        latest = db.session.scalar(
            select(Document)
            .where(Document.payment_id == payment.id, Document.kind == DocumentKind.ATTESTATION)
            .order_by(Document.id.desc())
            .limit(1)
        )
        document = _issue(
            DocumentKind.ATTESTATION,
            payment,
            lambda number, today: attestation_snapshot(
                payment,
                number=number,
                issued_on=today,
                language=original.language,
                corrects=latest,
            ),
            refund=refund,
            corrects=latest,
            total=payment.amount - payment.refunded_amount,
            at=at,
        )
        if payment.payer_email:
            _mail(document, [(payment.payer_email, document.language)])
        return document
    document = _issue(
        DocumentKind.CREDIT_NOTE,
        payment,
        lambda number, today: credit_note_snapshot(
            refund, original, number=number, issued_on=today
        ),
        refund=refund,
        corrects=original,
        total=refund.amount,
        at=at,
    )
    _mail(document, _recipients_of_partner_documents(payment, document))
    return document


def _recipients_of_partner_documents(payment: Payment, document: Document) -> list[tuple[str, str]]:
    """The paying partner's active team, or the payer when the team is unknown."""
    recipients = _team_of[0](payment) if _team_of else []
    if not recipients and payment.payer_email:
        recipients = [(payment.payer_email, document.language)]
    return recipients


def _mail(document: Document, recipients: list[tuple[str, str]]) -> None:
    with site_request_context():
        for email, locale in recipients:
            queue_mail(
                to=email,
                template="payments/document",
                subject=N_("Document %(number)s"),
                locale=locale if locale in LANGUAGES else "fr",
                attachments=[(document.filename, PDF_TYPE, document_pdf_bytes(document))],
                subject_args={"number": document.number},
                document=document,
            )


# ---------------------------------------------------------------- when documents are issued
#
# The payment's success (or the refund's record) happens under the payment's row lock; drawing
# a document takes a fraction of a second and, to stay gap-free, holds its series' counter row
# until the commit. Issuing inside that transaction made every webhook of the payment wait on
# the whole series' queue. So the success transaction only notes the document as due; it is
# issued in its own transaction right after the commit (``issue_due_documents``, called after
# each request) and, should the process stop in between, by the ``documents`` due task.

DUE_KEY = "documents_due"


def issue_for_payment(payment: Payment) -> None:
    """Note that ``payment`` (just succeeded, in this transaction) needs its document."""
    db.session.info.setdefault(DUE_KEY, []).append(("payment", payment.id))


def issue_for_refund(refund: Refund) -> None:
    """Note that ``refund`` (just recorded, in this transaction) needs its document."""
    db.session.info.setdefault(DUE_KEY, []).append(("refund", refund.id))


def _issue_one(what: str, row_id: int) -> None:
    """Issue one due document in a transaction of its own; a concurrent issue wins."""
    try:
        if what == "payment":
            payment = db.session.get(Payment, row_id)
            if payment is not None:
                issue_payment_document(payment)
        else:
            refund = db.session.get(Refund, row_id)
            if refund is not None:
                issue_refund_document(refund)
        db.session.commit()
    except IntegrityError:
        # Issued meanwhile by another request or the due task: its number stays, ours goes back.
        db.session.rollback()
        logger.info("%s %s: document issued concurrently", what, row_id)


def issue_due_documents() -> int:
    """After a commit: issue the documents its transaction noted as due; how many were tried.

    Notes left by a transaction that rolled back name payments that did not succeed (or
    refunds not recorded): issuing checks the row's state and does nothing for those.
    """
    due = db.session.info.pop(DUE_KEY, None) or []
    for what, row_id in dict.fromkeys(due):
        _issue_one(what, row_id)
    return len(due)


def issue_missing_documents(now: datetime) -> str:
    """Due task: documents a stopped process did not issue, and legacy numbers not frozen."""
    issue_due_documents()
    main_exists = exists().where(Document.payment_id == Payment.id, Document.refund_id.is_(None))
    payments = db.session.scalars(
        select(Payment.id)
        .where(
            Payment.status.in_(sorted(DOCUMENT_STATUSES)),
            Payment.document_number.is_(None),
            ~main_exists,
        )
        .order_by(Payment.id)
        .limit(BATCH)
    ).all()
    original = exists().where(
        Document.payment_id == Refund.payment_id, Document.refund_id.is_(None)
    )
    own = exists().where(Document.refund_id == Refund.id)
    refunds = db.session.scalars(
        select(Refund.id)
        .where(Refund.status == "succeeded", original, ~own)
        .order_by(Refund.id)
        .limit(BATCH)
    ).all()
    db.session.commit()
    for payment_id in payments:
        _issue_one("payment", payment_id)
    for refund_id in refunds:
        _issue_one("refund", refund_id)
    frozen = freeze_legacy_documents(now)
    return f"{len(payments) + len(refunds)} missing document(s) issued, {frozen}"


# ---------------------------------------------------------------- reading


def documents_of(payment: Payment) -> list[Document]:
    """Every document of a payment, in the order they were issued (files not loaded)."""
    return list(
        db.session.scalars(
            select(Document)
            .where(Document.payment_id == payment.id)
            .order_by(Document.id)
            .options(*_WITHOUT_FILES)
        )
    )


def xml_document_ids(listed: list[Document]) -> set[int]:
    """The documents of ``listed`` that have a CII XML to download (files not loaded): a frozen
    invoice or credit note that stored one (not one issued while the association had no
    SIRET), never an attestation. A legacy number not frozen yet is drawn with today's
    details: it has an XML when the association has a SIREN (at most one more query)."""
    found = {document.id for document in listed if document.frozen and document.has_xml}
    legacy = [
        document
        for document in listed
        if not document.frozen and document.kind != DocumentKind.ATTESTATION
    ]
    if legacy and _seller(association_details(), "fr").get("siren"):
        found.update(document.id for document in legacy)
    return found


def documents_with_xml(payment: Payment) -> list[tuple[Document, bool]]:
    """Every document of a payment with whether it has a CII XML (files not loaded)."""
    listed = documents_of(payment)
    with_xml = xml_document_ids(listed)
    return [(document, document.id in with_xml) for document in listed]


def documents_by_payment(payment_ids: list[int]) -> dict[int, list[Document]]:
    """The documents of several payments (one query), by payment id, oldest first."""
    found: dict[int, list[Document]] = {}
    if not payment_ids:
        return found
    rows = db.session.scalars(
        select(Document)
        .where(Document.payment_id.in_(payment_ids))
        .order_by(Document.id)
        .options(*_WITHOUT_FILES)
    )
    for document in rows:
        found.setdefault(document.payment_id, []).append(document)
    return found


def has_document(payment: Payment) -> bool:
    """Whether the payment has a downloadable document."""
    return payment.status in DOCUMENT_STATUSES and main_document(payment) is not None


def _legacy_snapshot(document: Document) -> dict[str, Any]:
    """What a number given before documents were frozen says, drawn from today's rows."""
    payment = document.payment
    issued_on = local_date(document.issued_at)
    if document.kind == DocumentKind.ATTESTATION:
        return attestation_snapshot(
            payment, number=document.number, issued_on=issued_on, language=document.language
        )
    return invoice_snapshot(
        payment, number=document.number, issued_on=issued_on, language=document.language
    )


def document_pdf_bytes(document: Document) -> bytes:
    """The stored PDF; a legacy number not frozen yet is drawn (not stored: a read is a read)."""
    if document.pdf is not None:
        return document.pdf
    return render(_legacy_snapshot(document))[0]


def document_xml_bytes(document: Document) -> bytes | None:
    """The stored CII XML of an invoice or credit note (None for an attestation, or for an
    invoice issued while the association had no SIRET)."""
    if document.kind == DocumentKind.ATTESTATION:
        return None
    if document.pdf is not None:
        return document.xml
    return render(_legacy_snapshot(document))[1]


def freeze_legacy_documents(now: datetime) -> str:
    """Due task: store the PDF of numbers given before documents were frozen (once each)."""
    ids = db.session.scalars(
        select(Document.id).where(Document.pdf.is_(None)).order_by(Document.id).limit(200)
    ).all()
    for document_id in ids:
        document = db.session.get(Document, document_id)
        _store(document, _legacy_snapshot(document))
        db.session.commit()
    return f"{len(ids)} legacy document(s) frozen"

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

This module issues documents and reads them; ``document_series`` numbers them,
``document_snapshots`` says what they contain and draws them, and ``document_registry`` holds
what the domain packages register (the core does not import them): the period a payment paid
for, its designation, the buyer's billing identity, the partner's team.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer

from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.i18n import N_
from marketplace.notifications.services import queue_mail
from marketplace.payments.document_models import SERIES, Document, DocumentKind
from marketplace.payments.document_registry import partner_team
from marketplace.payments.document_series import (
    DOCUMENT_STATUSES,
    accounting_year,
    format_number,
    local_date,
    next_document_sequence,
    predicted_sequence,
)
from marketplace.payments.document_snapshots import (
    LANGUAGES,
    association_details,
    attestation_snapshot,
    credit_note_snapshot,
    document_language,
    invoice_snapshot,
    render,
    seller,
)
from marketplace.payments.models import Payment, PaymentKind, Refund
from marketplace.tasks import site_request_context

logger = logging.getLogger(__name__)

PDF_TYPE = "application/pdf"
BATCH = 200  # documents a due task issues or freezes per run


# ---------------------------------------------------------------- rendering and storing


def _store(
    document: Document, snapshot: dict[str, Any], files: tuple[bytes, bytes | None] | None = None
) -> None:
    document.snapshot = snapshot
    document.pdf, document.xml = files or render(snapshot)
    document.sha256 = hashlib.sha256(document.pdf).hexdigest()


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
    predicted = predicted_sequence(series, year)
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
    language = document_language(payment)
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
    recipients = partner_team(payment)
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
    if legacy and seller(association_details(), "fr").get("siren"):
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

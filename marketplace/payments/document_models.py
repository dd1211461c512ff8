"""Issued documents (invoices, credit notes, payment attestations) and their number series.

A document is frozen when it is issued: its PDF (and, for invoices and credit notes, the
Factur-X CII XML embedded in it) is stored with the snapshot of what it says, and every later
download returns those bytes. Each series (``F`` invoices, ``AV`` credit notes, ``AT``
attestations) is numbered per year without gaps by its own counter row.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from marketplace.database import UTCDateTime, utcnow
from marketplace.extensions import db
from marketplace.payments.models import Payment, Refund


class DocumentKind(enum.StrEnum):
    """What a document is; the kind decides its series."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    ATTESTATION = "attestation"


# Each kind's series prefix; numbers read ``F-2026-000123``. ``legacy`` holds the numbers given
# before the series were separated (``2026-000055``, one counter shared by every kind).
SERIES = {
    DocumentKind.INVOICE: "F",
    DocumentKind.CREDIT_NOTE: "AV",
    DocumentKind.ATTESTATION: "AT",
}
LEGACY_SERIES = "legacy"


class DocumentCounter(db.Model):
    """The last number of a series in a year; incremented under a row lock (gap-free)."""

    __tablename__ = "document_series_counters"

    series: Mapped[str] = mapped_column(String(10), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_sequence: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<DocumentCounter {self.series} {self.year} {self.last_sequence}>"


class Document(db.Model):
    """An issued document, frozen: the stored PDF is what every download returns."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("series", "year", "sequence"),
        # One invoice or attestation per payment, one document per refund: a concurrent second
        # issue fails here and is rolled back, giving its number back.
        Index(
            "uq_documents_payment_main",
            "payment_id",
            unique=True,
            postgresql_where=text("refund_id IS NULL"),
            sqlite_where=text("refund_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DocumentKind] = mapped_column(
        Enum(DocumentKind, native_enum=False, length=20, validate_strings=True)
    )
    series: Mapped[str] = mapped_column(String(10))
    year: Mapped[int]
    sequence: Mapped[int]
    number: Mapped[str] = mapped_column(String(24), unique=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    # The refund a credit note (or a corrected attestation) answers.
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"), unique=True)
    # The document this one corrects: a credit note's invoice, a corrected attestation's original.
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    language: Mapped[str] = mapped_column(String(5), default="fr")
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[int]  # minor units, tax included, positive (a credit note's amount too)
    # Who the document is addressed to: the company's legal name on an invoice or credit
    # note, the payer on an attestation (the FEC labels its entries with it).
    counterparty: Mapped[str] = mapped_column(String(200))
    # What the document says (seller, buyer, lines, totals, notes), as it was when issued.
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # None only for a legacy number not frozen yet (``freeze_legacy_documents``).
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    xml: Mapped[bytes | None] = mapped_column(LargeBinary)
    sha256: Mapped[str | None] = mapped_column(String(64))
    # Whether the files are stored (frozen) and whether an XML is among them, read without
    # loading the files: pages and the API offer an XML only where there is one.
    frozen: Mapped[bool] = column_property(pdf.is_not(None))
    has_xml: Mapped[bool] = column_property(xml.is_not(None))

    payment: Mapped[Payment] = relationship()
    refund: Mapped[Refund | None] = relationship()
    corrects: Mapped[Document | None] = relationship(remote_side="Document.id")

    def __repr__(self) -> str:
        return f"<Document {self.number} {self.kind}>"

    @property
    def filename(self) -> str:
        """``facture-F-2026-000123.pdf``, ``avoir-AV-…``, ``attestation-AT-…``."""
        word = {
            DocumentKind.INVOICE: "facture",
            DocumentKind.CREDIT_NOTE: "avoir",
            DocumentKind.ATTESTATION: "attestation",
        }[self.kind]
        return f"{word}-{self.number}.pdf"

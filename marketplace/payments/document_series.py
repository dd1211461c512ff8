"""Document numbering: the accounting year and day (Europe/Paris) and the gap-free counter of
each series (``F`` invoices, ``AT`` attestations, ``AV`` credit notes) per year."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from marketplace.extensions import db
from marketplace.payments.document_models import LEGACY_SERIES, DocumentCounter
from marketplace.payments.models import PaymentStatus

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
COUNTER_LOCK_TIMEOUT = "20s"


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


def predicted_sequence(series: str, year: int) -> int:
    """The number the counter would give now (read without a lock: a guess)."""
    last = db.session.scalar(
        select(DocumentCounter.last_sequence).where(
            DocumentCounter.series == series, DocumentCounter.year == year
        )
    )
    return (last or 0) + 1

"""`seed demo` gives the treasurer a year of ledger: numbered, summed by the dashboard."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.payments import documents
from marketplace.payments.document_models import Document
from marketplace.payments.models import Payment, PaymentStatus, Refund
from marketplace.treasury import dashboard
from marketplace.treasury.demo import DEMO_LEDGER, seed_ledger


def _demo_payments() -> list[Payment]:
    return list(db.session.scalars(select(Payment).where(Payment.description.like("Demo %"))))


def test_demo_ledger_is_numbered_without_gaps_and_summed_by_the_dashboard(app):
    result = app.test_cli_runner().invoke(args=["seed", "demo"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        payments = _demo_payments()
        assert len(payments) == len(DEMO_LEDGER)
        numbered = [p for p in payments if p.document_number is not None]
        assert len(numbered) == len([p for p in payments if p.status != PaymentStatus.FAILED])
        # Each series (F invoices, AT attestations, AV credit notes) of each year runs
        # without a gap.
        issued = db.session.scalars(select(Document).order_by(Document.id)).all()
        assert {d.number for d in issued} >= {p.document_number for p in numbered}
        series: dict[tuple[str, int], list[int]] = {}
        for document in issued:
            series.setdefault((document.series, document.year), []).append(document.sequence)
        assert {name for name, _year in series} == {"F", "AT", "AV"}
        for sequences in series.values():
            assert sorted(sequences) == list(range(1, len(sequences) + 1))
        # Each refund has its credit note (partners) or corrected attestation (dues).
        refunded = [p for p in payments if p.refunded_amount]
        for payment in refunded:
            kinds = [d.kind.value for d in documents.documents_of(payment)]
            assert kinds in (["invoice", "credit_note"], ["attestation", "attestation"])
        # The dashboard over the last 13 months holds every demo line, summed independently.
        today = utcnow().date()
        figures = dashboard.period_figures(start=today - timedelta(days=400), end=today)
        total = next(f for f in figures if f.currency == "EUR").total
        paid = [p for p in payments if p.succeeded_at is not None]
        refunds = db.session.scalars(
            select(Refund).where(Refund.payment_id.in_([p.id for p in payments]))
        ).all()
        assert total.gross == sum(p.amount for p in paid)
        assert total.fees == sum(p.stripe_fee for p in paid)
        assert total.refunds == sum(r.amount for r in refunds) > 0
        # A second run adds nothing.
        assert seed_ledger() == 0
        assert db.session.scalar(select(func.count(Payment.id))) == len(payments)

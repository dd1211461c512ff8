"""`seed demo` gives the treasurer a year of ledger: numbered, summed by the dashboard, and
consistent (issue 12): no exception the demo did not mean, no paid membership without its
membership, nothing a check against Stripe would flag."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.models import Membership
from marketplace.membership.services import has_active_membership
from marketplace.payments import documents
from marketplace.payments.document_models import Document
from marketplace.payments.identifiers import siren_is_valid, siret_is_valid, vat_number_is_valid
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus, Refund
from marketplace.treasury import dashboard
from marketplace.treasury import review_queue as exceptions
from marketplace.treasury.demo import DEMO_LEDGER, seed_ledger
from partners.models import Partner, PartnerBillingIdentity
from tests import einvoice
from tests.payments import conftest as payment_fixtures

stripe_app = payment_fixtures.stripe_app


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
        assert total.dispute_fees == 1500  # the disputed placement, won: only the fee is gone
        # A second run adds nothing.
        assert seed_ledger() == 0
        assert db.session.scalar(select(func.count(Payment.id))) == len(payments)


def test_the_demo_ledger_raises_no_false_exception(app, stripe_app):
    assert app.test_cli_runner().invoke(args=["seed", "demo"]).exit_code == 0
    with app.app_context():
        assert exceptions.exception_queue(now=utcnow()).total == 0
        # A check against Stripe finds nothing to flag: the demo never reached Stripe.
        result = exceptions.check_against_stripe(actor=None, now=utcnow())
        assert result.missing == []
        queue = exceptions.exception_queue(now=utcnow())
        # Only the intents other tests left in the session's Stripe can be listed.
        assert queue.total == len(queue.unknown_to_ledger)
        assert all(p.stripe_payment_intent_id is None for p in _demo_payments())


def test_every_paid_membership_gave_its_membership(app):
    assert app.test_cli_runner().invoke(args=["seed", "demo"]).exit_code == 0
    with app.app_context():
        for payment in _demo_payments():
            if payment.kind != PaymentKind.MEMBERSHIP:
                continue
            period = db.session.scalar(
                select(Membership).where(Membership.payment_id == payment.id)
            )
            if payment.status == PaymentStatus.SUCCEEDED:
                assert period is not None, payment
                assert period.user_id == payment.payer_id
            else:
                assert period is None, payment  # refunded in full or failed: nothing given
        bruno = db.session.scalar(select(User).where(User.email == "bruno@example.org"))
        assert not has_active_membership(bruno)  # the demo's non-member stays one


def test_demo_partner_invoices_name_the_company_and_pass_factur_x(app):
    """The demo partners have a billing identity (valid SIREN / SIRET / VAT number) and their
    payments' invoices and credit notes are addressed to it, as Factur-X XML that passes the
    XSD and both schematrons."""
    assert app.test_cli_runner().invoke(args=["seed", "demo"]).exit_code == 0
    with app.app_context():
        identities = db.session.scalars(select(PartnerBillingIdentity)).all()
        names = {
            identity.partner_id: db.session.get(Partner, identity.partner_id).name
            for identity in identities
        }
        assert set(names.values()) >= {
            "Librairie Voltaire",
            "Air Horizon",
            "CodeCamp Lisboa",
        }
        for identity in identities:
            if identity.country == "FR":
                assert siren_is_valid(identity.siren), identity.siren
                assert siret_is_valid(identity.siret), identity.siret
            assert vat_number_is_valid(identity.vat_number), identity.vat_number
        partner_kinds = (PaymentKind.PARTNER_PLAN, PaymentKind.FEATURED)
        billed = [p for p in _demo_payments() if p.kind in partner_kinds and p.succeeded_at]
        assert billed
        checked = 0
        for payment in billed:
            assert payment.partner_id is not None, payment
            identity = db.session.scalar(
                select(PartnerBillingIdentity).where(
                    PartnerBillingIdentity.partner_id == payment.partner_id
                )
            )
            for document in documents.documents_of(payment):
                db.session.refresh(document, ["xml", "snapshot"])
                assert document.snapshot["buyer"]["name"] == identity.legal_name
                # The line says what was bought: the plan's days, the featured offer's title.
                designation = document.snapshot["lines"][0]["designation"]
                assert f"({payment.subject['days']} " in designation, designation
                assert "#" not in designation, designation
                assert document.snapshot["buyer"].get("siren") == identity.siren
                assert document.xml is not None, document.number
                assert einvoice.validator().errors(document.xml) == [], document.number
                checked += 1
        assert checked > len(billed)  # the credit note of the refunded placement too

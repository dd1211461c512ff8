"""Payment documents: gap-free yearly numbers, the PDF's wording, and who may download it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from marketplace.extensions import db
from marketplace.membership.models import Membership
from marketplace.payments import documents
from marketplace.payments.models import (
    AssociationDetails,
    DocumentCounter,
    Payment,
    PaymentKind,
    PaymentStatus,
)
from partners.models import Partner, PartnerStatus
from tests.conftest import BACKEND

# Years no other test uses, so exact numbers can be asserted.
YEAR = 2191


@pytest.fixture
def association(app) -> None:
    with app.app_context():
        db.session.add(
            AssociationDetails(
                name="Amicale des lycées français (test)",
                address="3 rue de l'Essai\n75001 Paris",
                siret="12345678200010",
                rna="W751234567",
                email="tresor@example.org",
                vat_note="TVA non applicable, art. 293 B du CGI",
            )
        )
        db.session.commit()


@pytest.fixture
def create_payment(app) -> Callable[..., int]:
    """``create_payment(kind=..., status=..., succeeded_at=..., payer=..., numbered=True)`` → id."""

    def make(
        *,
        kind: PaymentKind = PaymentKind.MEMBERSHIP,
        status: PaymentStatus = PaymentStatus.SUCCEEDED,
        amount: int = 4000,
        succeeded_at: datetime | None = None,
        payer=None,
        partner_id: int | None = None,
        numbered: bool = False,
        description: str = "Adhésion standard",
    ) -> int:
        with app.app_context():
            payment = Payment(
                kind=kind,
                status=status,
                amount=amount,
                currency="EUR",
                payer_id=payer.id if payer else None,
                payer_name=payer.full_name if payer else "Élodie Crédit",
                payer_email=payer.email if payer else "elodie@example.org",
                partner_id=partner_id,
                subject={},
                description=description,
                succeeded_at=succeeded_at,
            )
            db.session.add(payment)
            db.session.flush()
            if numbered:
                documents.assign_document_number(payment)
            db.session.commit()
            return payment.id

    return make


def _assign(app, payment_id: int) -> str:
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        number = documents.assign_document_number(payment)
        db.session.commit()
        return number


# ---------------------------------------------------------------- numbering


def test_numbers_are_gap_free_within_a_year(app, create_payment):
    moment = datetime(YEAR, 3, 1, 12, tzinfo=UTC)
    ids = [create_payment(succeeded_at=moment) for _ in range(3)]
    assert [_assign(app, payment_id) for payment_id in ids] == [
        f"{YEAR}-000001",
        f"{YEAR}-000002",
        f"{YEAR}-000003",
    ]
    with app.app_context():
        assert db.session.get(DocumentCounter, YEAR).last_sequence == 3
        payment = db.session.get(Payment, ids[2])
        assert (payment.document_year, payment.document_sequence) == (YEAR, 3)


def test_a_numbered_payment_keeps_its_number(app, create_payment):
    payment_id = create_payment(succeeded_at=datetime(YEAR, 5, 1, tzinfo=UTC))
    first = _assign(app, payment_id)
    assert _assign(app, payment_id) == first
    with app.app_context():
        assert db.session.get(DocumentCounter, YEAR).last_sequence == 1


def test_each_year_starts_again_at_one_in_french_time(app, create_payment):
    # 22:30 UTC on 31 December is still that year in Paris; 23:30 UTC is already the next one.
    last_of_year = create_payment(succeeded_at=datetime(YEAR, 12, 31, 22, 30, tzinfo=UTC))
    first_of_next = create_payment(succeeded_at=datetime(YEAR, 12, 31, 23, 30, tzinfo=UTC))
    assert _assign(app, last_of_year) == f"{YEAR}-000001"
    assert _assign(app, first_of_next) == f"{YEAR + 1}-000001"


def test_without_a_payment_date_the_clock_gives_the_year(app, create_payment, monkeypatch):
    payment_id = create_payment()
    monkeypatch.setattr(documents, "utcnow", lambda: datetime(YEAR + 2, 1, 1, 9, tzinfo=UTC))
    assert _assign(app, payment_id) == f"{YEAR + 2}-000001"


def test_a_rolled_back_transaction_gives_its_number_back(app, create_payment):
    moment = datetime(YEAR, 6, 1, tzinfo=UTC)
    first, second = create_payment(succeeded_at=moment), create_payment(succeeded_at=moment)
    with app.app_context():
        nested = db.session.begin_nested()
        documents.assign_document_number(db.session.get(Payment, first))
        nested.rollback()
    assert _assign(app, second) == f"{YEAR}-000001"
    with app.app_context():
        assert db.session.get(Payment, first).document_number is None


@pytest.mark.skipif(BACKEND != "postgresql", reason="row locks of concurrent transactions")
def test_concurrent_assignments_get_distinct_consecutive_numbers(app):
    """Threads, each with its own connection and real commits, share one counter."""
    year = YEAR + 5
    with app.app_context():
        engine = db.engine
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(12)

    def work() -> None:
        try:
            with Session(engine) as session:
                barrier.wait(timeout=10)
                value = documents.next_document_sequence(session, year)
                session.commit()
                results.append(value)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(12)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert errors == []
        assert sorted(results) == list(range(1, 13))
    finally:
        with engine.begin() as connection:
            connection.execute(delete(DocumentCounter).where(DocumentCounter.year == year))


# ---------------------------------------------------------------- the PDF


def _pdf(app, payment_id: int) -> bytes:
    with app.app_context():
        return documents.render_document_pdf(db.session.get(Payment, payment_id), compress=False)


def _cp1252(text: str) -> bytes:
    return text.encode("cp1252")


def test_membership_dues_get_an_attestation_not_a_tax_receipt(
    app, association, create_payment, create_user
):
    payer = create_user(full_name="Zoé Lefèvre")
    payment_id = create_payment(
        payer=payer, succeeded_at=datetime(YEAR, 4, 2, 10, tzinfo=UTC), numbered=True
    )
    with app.app_context():
        db.session.add(
            Membership(
                user_id=payer.id,
                starts_on=date(YEAR, 4, 2),
                ends_on=date(YEAR + 1, 4, 2),
                source="payment",
                payment_id=payment_id,
            )
        )
        db.session.commit()
    body = _pdf(app, payment_id)
    assert body.startswith(b"%PDF")
    for text in (
        "Attestation de paiement",
        f"{YEAR}-000001",
        "40,00 €",
        "Zoé Lefèvre",
        "reçu fiscal",
        "not eligible for a tax receipt",
        "SIRET : 12345678200010",
        "RNA : W751234567",
        f"02/04/{YEAR} - 02/04/{YEAR + 1}",
    ):
        assert _cp1252(text) in body, text
    assert b"Facture" not in body


def test_partner_payments_get_a_sponsorship_invoice(app, association, create_payment, create_user):
    with app.app_context():
        partner = Partner(
            name="Voyages Éclair",
            slug=f"voyages-eclair-{uuid.uuid4().hex[:6]}",
            country="PT",
            contact_name="Olga Owner",
            contact_email="olga@example.org",
            status=PartnerStatus.APPROVED,
        )
        db.session.add(partner)
        db.session.commit()
        partner_id = partner.id
    payment_id = create_payment(
        kind=PaymentKind.FEATURED,
        amount=12050,
        partner_id=partner_id,
        payer=create_user(full_name="Olga Owner"),
        succeeded_at=datetime(YEAR, 7, 14, tzinfo=UTC),
        description="Mise en avant de l'offre pendant 30 jours",
        numbered=True,
    )
    body = _pdf(app, payment_id)
    for text in (
        "Facture / Invoice",
        f"{YEAR}-000001",
        "Voyages Éclair",
        "Parrainage",
        "120,50 €",
        "TVA non applicable, art. 293 B du CGI",
        "Amicale des lycées français",  # the name, parentheses are escaped in PDF strings
    ):
        assert _cp1252(text) in body, text
    assert b"Attestation de paiement" not in body
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        assert documents.document_filename(payment) == f"facture-{YEAR}-000001.pdf"


def test_a_payment_without_a_number_has_no_document(app, create_payment):
    payment_id = create_payment(status=PaymentStatus.PENDING)
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        assert not documents.has_document(payment)
        with pytest.raises(ValueError, match="no document number"):
            documents.render_document_pdf(payment)


def test_letters_outside_the_pdf_fonts_lose_only_their_accents(app, create_payment, create_user):
    payer = create_user(full_name="Nguyễn Thị Ánh")
    payment_id = create_payment(payer=payer, succeeded_at=datetime(YEAR, 2, 1, tzinfo=UTC))
    _assign(app, payment_id)
    body = _pdf(app, payment_id)
    assert _cp1252("Nguyen Thị Ánh".replace("ị", "i")) in body


# ---------------------------------------------------------------- download


def _url(payment_id: int) -> str:
    return f"/documents/payments/{payment_id}.pdf"


@pytest.fixture
def paid(app, create_payment, create_user, association):
    payer = create_user(alumni=True, status="verified")
    payment_id = create_payment(
        payer=payer, succeeded_at=datetime(YEAR, 9, 9, tzinfo=UTC), numbered=True
    )
    return payer, payment_id


def test_the_payer_downloads_the_attestation(client, login, paid):
    payer, payment_id = paid
    response = login(client, payer).get(_url(payment_id))
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=attestation-{YEAR}-000001.pdf"
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_another_member_gets_404(client, login, paid, create_user):
    _payer, payment_id = paid
    other = create_user(alumni=True, status="verified")
    assert login(client, other).get(_url(payment_id)).status_code == 404
    assert client.get(_url(999_999_999)).status_code == 404


@pytest.mark.parametrize("role", ["treasurer", "admin"])
def test_the_treasury_downloads_any_document(client, login, paid, create_user, role):
    _payer, payment_id = paid
    staff = create_user(roles=(role,))
    assert login(client, staff).get(_url(payment_id)).status_code == 200
    treasury_url = f"/treasury/payments/{payment_id}/document.pdf"
    response = client.get(treasury_url)
    assert response.status_code == 200
    assert response.data.startswith(b"%PDF")


def test_the_treasury_needs_two_factor(client, login, paid, create_user):
    _payer, payment_id = paid
    treasurer = create_user(roles=("treasurer",))
    response = login(client, treasurer, mfa=False).get(_url(payment_id))
    assert response.status_code == 302
    assert "/two-factor" in response.headers["Location"] or "two_factor" in response.location


def test_moderators_get_404(client, login, paid, create_user):
    _payer, payment_id = paid
    moderator = create_user(roles=("moderator",))
    assert login(client, moderator).get(_url(payment_id)).status_code == 404


def test_anonymous_callers_are_sent_to_sign_in(client, paid):
    _payer, payment_id = paid
    response = client.get(_url(payment_id))
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_an_unpaid_payment_has_nothing_to_download(client, login, create_payment, create_user):
    payer = create_user(alumni=True, status="verified")
    payment_id = create_payment(payer=payer, status=PaymentStatus.FAILED)
    assert login(client, payer).get(_url(payment_id)).status_code == 404


def test_counter_rows_exist_only_for_years_used(app, create_payment):
    payment_id = create_payment(succeeded_at=datetime(YEAR + 3, 1, 5, tzinfo=UTC))
    _assign(app, payment_id)
    with app.app_context():
        years = set(
            db.session.scalars(select(DocumentCounter.year).where(DocumentCounter.year > YEAR))
        )
        assert years == {YEAR + 3}

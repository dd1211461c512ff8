"""Payment documents: separate gap-free series, frozen bytes, credit notes for refunds, corrected
attestations, legacy numbers, and when documents are issued. The invoice's mentions and PDF/A-3
with Factur-X are in test_invoice_documents.py, who downloads in test_document_downloads.py.

Every invoice and credit note generated here also passes the XSD and the EN 16931 and French
CTC schematrons (``tests/einvoice.py``, run on each generated XML).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.notifications.models import OutboxAttachment, OutboxMessage
from marketplace.payments import document_series, document_snapshots, documents
from marketplace.payments.document_models import Document, DocumentCounter, DocumentKind
from marketplace.payments.models import (
    AssociationDetails,
    Payment,
    PaymentKind,
    PaymentStatus,
)
from partners.models import (
    PartnerBillingIdentity,
    PartnerMember,
    TeamRole,
)
from tests.conftest import BACKEND
from tests.einvoice import pdf_text
from tests.payments.documents_support import YEAR, main, refund

# ---------------------------------------------------------------- numbering


def test_each_series_is_numbered_from_one_per_year_without_gaps(app):
    with app.app_context():
        numbers = [
            document_series.format_number(
                series, YEAR, document_series.next_document_sequence(db.session, series, YEAR)
            )
            for series in ("F", "AT", "F", "AV", "AT", "F")
        ]
        db.session.commit()
    assert numbers == [
        f"F-{YEAR}-000001",
        f"AT-{YEAR}-000001",
        f"F-{YEAR}-000002",
        f"AV-{YEAR}-000001",
        f"AT-{YEAR}-000002",
        f"F-{YEAR}-000003",
    ]
    with app.app_context():
        assert db.session.get(DocumentCounter, ("F", YEAR + 1)) is None
        assert document_series.next_document_sequence(db.session, "F", YEAR + 1) == 1


def test_a_rolled_back_issue_gives_its_number_back(app):
    with app.app_context():
        nested = db.session.begin_nested()
        assert document_series.next_document_sequence(db.session, "F", YEAR + 2) == 1
        nested.rollback()
        assert document_series.next_document_sequence(db.session, "F", YEAR + 2) == 1


def test_the_year_is_the_one_of_paris():
    # 23:30 UTC on 31 December is already the next year in Paris.
    assert document_series.accounting_year(datetime(YEAR, 12, 31, 22, 30, tzinfo=UTC)) == YEAR
    assert document_series.accounting_year(datetime(YEAR, 12, 31, 23, 30, tzinfo=UTC)) == YEAR + 1


def test_invoices_attestations_and_credit_notes_have_their_own_series(
    app, association, paid, french_partner, create_user
):
    partner_id, owner = french_partner()
    moment = datetime(YEAR + 3, 3, 1, 10, tzinfo=UTC)
    invoice = paid(payer=owner, partner_id=partner_id, at=moment)
    member = create_user(full_name="Zoé Lefèvre", locale="fr")
    attestation = paid(kind=PaymentKind.MEMBERSHIP, amount=4000, payer=member, at=moment)
    second = paid(payer=owner, partner_id=partner_id, at=moment)
    assert main(app, invoice).number == f"F-{YEAR + 3}-000001"
    assert main(app, attestation).number == f"AT-{YEAR + 3}-000001"
    assert main(app, second).number == f"F-{YEAR + 3}-000002"
    with app.app_context():
        assert db.session.get(Payment, second).document_number == f"F-{YEAR + 3}-000002"


@pytest.mark.skipif(BACKEND != "postgresql", reason="row locks of concurrent transactions")
def test_concurrent_issuing_keeps_each_series_gap_free(app):
    """Real threads, each with its own connection, take numbers of one series and insert their
    document; some roll back. The committed documents are numbered 1..n without a gap."""
    year = YEAR + 5
    with app.app_context():
        engine = db.engine
    with Session(engine) as session:
        rows = [
            Payment(
                kind=PaymentKind.FEATURED,
                status=PaymentStatus.SUCCEEDED,
                amount=100,
                currency="eur",
                payer_name="Thread test",
                subject={},
                description="threads",
            )
            for _ in range(16)
        ]
        session.add_all(rows)
        session.commit()
        payment_ids = [row.id for row in rows]
    errors: list[BaseException] = []
    barrier = threading.Barrier(16)

    def work(index: int) -> None:
        try:
            with Session(engine) as session:
                barrier.wait(timeout=10)
                sequence = document_series.next_document_sequence(session, "F", year)
                session.add(
                    Document(
                        kind=DocumentKind.INVOICE,
                        series="F",
                        year=year,
                        sequence=sequence,
                        number=document_series.format_number("F", year, sequence),
                        payment_id=payment_ids[index],
                        currency="EUR",
                        total=100,
                        counterparty="x",
                    )
                )
                session.flush()
                if index % 4 == 0:
                    session.rollback()  # a failed issue: its number goes back
                else:
                    session.commit()
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(16)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        with Session(engine) as session:
            sequences = sorted(
                session.scalars(
                    select(Document.sequence).where(Document.series == "F", Document.year == year)
                )
            )
            assert sequences == list(range(1, 13))
            assert session.get(DocumentCounter, ("F", year)).last_sequence == 12
    finally:
        with engine.begin() as connection:
            connection.execute(delete(Document).where(Document.payment_id.in_(payment_ids)))
            connection.execute(delete(DocumentCounter).where(DocumentCounter.year == year))
            connection.execute(delete(Payment).where(Payment.id.in_(payment_ids)))


# ---------------------------------------------------------------- frozen documents


def test_a_stored_invoice_keeps_its_bytes_after_a_refund_and_new_details(
    app, client, login, association, paid, french_partner
):
    partner_id, owner = french_partner()
    payment_id = paid(payer=owner, partner_id=partner_id, amount=12000)
    url = f"/documents/payments/{payment_id}.pdf"
    before = login(client, owner).get(url)
    assert before.status_code == 200
    assert before.data == main(app, payment_id).pdf
    refund(app, payment_id, 12000)
    with app.app_context():
        db.session.scalar(select(AssociationDetails)).address = "99 boulevard Nouveau"
        identity = db.session.scalar(select(PartnerBillingIdentity))
        identity.legal_name = "Éclair Renamed SAS"
        db.session.commit()
    after = client.get(url)
    assert after.data == before.data
    assert "Refunded" not in pdf_text(after.data)
    assert "Remboursé" not in pdf_text(after.data)
    # Documents issued afterwards say the new details.
    later = main(app, paid(payer=owner, partner_id=partner_id, amount=12000))
    assert "99 boulevard Nouveau" in pdf_text(later.pdf)
    assert "Éclair Renamed SAS" in pdf_text(later.pdf)
    assert "99 boulevard Nouveau" not in pdf_text(after.data)


# ---------------------------------------------------------------- refunds


def test_each_refund_gets_a_credit_note_referencing_the_invoice_sent_to_the_team(
    app, association, paid, french_partner, create_user, outbox
):
    partner_id, owner = french_partner()
    manager = create_user(locale="en")
    with app.app_context():
        db.session.add(
            PartnerMember(partner_id=partner_id, user_id=manager.id, role=TeamRole.MANAGER)
        )
        db.session.commit()
    payment_id = paid(payer=owner, partner_id=partner_id, amount=12000)
    invoice = main(app, payment_id)
    first = refund(app, payment_id, 2000)
    second = refund(app, payment_id, 10000)
    assert first.kind == second.kind == DocumentKind.CREDIT_NOTE
    assert first.number.startswith("AV-")
    assert second.number.startswith("AV-")
    assert first.corrects_id == second.corrects_id == invoice.id
    text = pdf_text(first.pdf)
    assert "Avoir" in text
    assert invoice.number in text
    assert "Total TTC 20,00 €" in text
    assert f"<ram:IssuerAssignedID>{invoice.number}</ram:IssuerAssignedID>".encode() in first.xml
    assert b"<ram:TypeCode>381</ram:TypeCode>" in first.xml
    for person in (owner, manager):
        mails = [m for m in outbox(to=person.email) if m.template == "payments/document"]
        assert len(mails) == 3  # the invoice, then each credit note
        with app.app_context():
            files = db.session.scalars(
                select(OutboxAttachment).where(OutboxAttachment.message_id == mails[1].id)
            ).all()
            assert [(f.filename, f.content) for f in files] == [(first.filename, first.pdf)]


def test_a_refunded_membership_gets_a_corrected_attestation(
    app, association, paid, create_user, outbox
):
    member = create_user(full_name="Zoé Lefèvre", locale="fr")
    payment_id = paid(kind=PaymentKind.MEMBERSHIP, amount=4000, payer=member)
    original = main(app, payment_id)
    corrected = refund(app, payment_id, 4000)
    assert corrected.kind == DocumentKind.ATTESTATION
    assert corrected.corrects_id == original.id
    text = pdf_text(corrected.pdf)
    assert "Attestation de paiement rectificative" in text
    assert original.number in text
    assert "Remboursé 40,00 €" in text
    assert main(app, payment_id).pdf == original.pdf
    mails = [m for m in outbox(to=member.email) if m.template == "payments/document"]
    assert len(mails) == 2  # the attestation, then the corrected one


def test_the_attestation_is_e_mailed_as_an_attachment_when_issued(
    app, association, paid, create_user
):
    from marketplace.notifications.services import _build

    member = create_user(locale="en")
    payment_id = paid(kind=PaymentKind.MEMBERSHIP, amount=4000, payer=member)
    attestation = main(app, payment_id)
    with app.app_context(), app.test_request_context():
        [message] = db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.template == "payments/document",
                OutboxMessage.recipient == member.email,
            )
        ).all()
        assert message.subject == f"Document {attestation.number}"
        email = _build(message)
        [attachment] = list(email.iter_attachments())
        assert attachment.get_filename() == attestation.filename
        assert attachment.get_content() == attestation.pdf


# ---------------------------------------------------------------- legacy numbers


def test_a_legacy_number_stays_readable_and_is_frozen_by_the_due_task(
    app, client, login, association, create_user
):
    member = create_user(alumni=True, status="verified")
    with app.app_context():
        payment = Payment(
            kind=PaymentKind.MEMBERSHIP,
            status=PaymentStatus.SUCCEEDED,
            amount=4000,
            currency="eur",
            payer_id=member.id,
            payer_name="Old Member",
            subject={},
            description="old",
            succeeded_at=utcnow(),
            document_number=f"{YEAR}-000055",
        )
        db.session.add(payment)
        db.session.flush()
        db.session.add(
            Document(
                kind=DocumentKind.ATTESTATION,
                series="legacy",
                year=YEAR,
                sequence=55,
                number=f"{YEAR}-000055",
                payment_id=payment.id,
                currency="EUR",
                total=4000,
                counterparty="Old Member",
                issued_at=utcnow(),
            )
        )
        db.session.commit()
        payment_id = payment.id
    response = login(client, member).get(f"/documents/payments/{payment_id}.pdf")
    assert response.status_code == 200
    assert f"{YEAR}-000055" in pdf_text(response.data)
    with app.app_context():
        assert "frozen" in documents.freeze_legacy_documents(utcnow())
        stored = db.session.scalar(select(Document).where(Document.payment_id == payment_id))
        assert stored.pdf is not None
        assert stored.snapshot["number"] == f"{YEAR}-000055"
    assert client.get(f"/documents/payments/{payment_id}.pdf").data == stored.pdf


# ---------------------------------------------------------------- when documents are issued


def test_a_document_a_stopped_process_left_is_issued_by_the_due_task(
    app, association, french_partner
):
    """The success transaction notes the document as due; if the process stops before issuing
    it, ``tasks run-due`` does, once."""
    partner_id, owner = french_partner()
    with app.app_context():
        payment = Payment(
            kind=PaymentKind.PARTNER_PLAN,
            status=PaymentStatus.SUCCEEDED,
            amount=12000,
            currency="eur",
            payer_id=owner.id,
            payer_name=owner.full_name,
            payer_email=owner.email,
            partner_id=partner_id,
            subject={"plan": "x", "days": 1},
            description="x",
            succeeded_at=utcnow(),
        )
        db.session.add(payment)
        db.session.flush()
        documents.issue_for_payment(payment)  # noted as due...
        db.session.commit()
        db.session.info.pop(documents.DUE_KEY)  # ...and the process stopped there
        payment_id = payment.id
        assert documents.main_document(db.session.get(Payment, payment_id)) is None
        report = documents.issue_missing_documents(utcnow())
        assert report.startswith("1 missing document(s) issued")
        assert documents.main_document(db.session.get(Payment, payment_id)) is not None
        assert documents.issue_missing_documents(utcnow()).startswith("0 missing")


def test_a_second_issue_of_the_same_document_is_refused_and_gives_its_number_back(
    app, association, paid, french_partner
):
    partner_id, owner = french_partner()
    payment_id = paid(payer=owner, partner_id=partner_id)
    first = main(app, payment_id)
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        # A racing issuer that did not see the first document (as under READ COMMITTED).
        nested = db.session.begin_nested()
        with pytest.raises(IntegrityError):
            documents._issue(
                DocumentKind.INVOICE,
                payment,
                lambda number, today: document_snapshots.invoice_snapshot(
                    payment, number=number, issued_on=today, language="fr"
                ),
                total=payment.amount,
            )
        nested.rollback()
        year = first.year
        assert db.session.get(DocumentCounter, ("F", year)).last_sequence == first.sequence

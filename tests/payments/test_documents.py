"""Payment documents: separate gap-free series, every mandatory mention, frozen bytes, credit
notes for refunds, corrected attestations, PDF/A-3 with Factur-X, and who may download them.

Every invoice and credit note generated here also passes the XSD and the EN 16931 and French
CTC schematrons (``tests/einvoice.py``, run on each generated XML).
"""

from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import facturx
import pytest
from pypdf import PdfReader
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.models import Membership
from marketplace.notifications.models import OutboxAttachment, OutboxMessage
from marketplace.payments import document_series, document_snapshots, documents
from marketplace.payments.document_models import Document, DocumentCounter, DocumentKind
from marketplace.payments.models import (
    AssociationDetails,
    Payment,
    PaymentKind,
    PaymentStatus,
    Refund,
)
from partners.models import (
    Partner,
    PartnerBillingIdentity,
    PartnerMember,
    PartnerStatus,
    TeamRole,
)
from tests import einvoice
from tests.conftest import BACKEND
from tests.einvoice import long_date, pdf_text
from tests.partners import conftest as partner_fixtures

create_partner = partner_fixtures.create_partner

# Years no other test uses, so exact numbers can be asserted.
YEAR = 2091
ASSOCIATION = {
    "name": "Amicale des lycées français (test)",
    "address": "3 rue de l'Essai",
    "postal_code": "75001",
    "city": "Paris",
    "country": "FR",
    "siret": "12345678200010",
    "rna": "W751234567",
    "email": "tresor@example.org",
    "vat_regime": "franchise",
}


@pytest.fixture
def association(app) -> None:
    with app.app_context():
        db.session.add(AssociationDetails(**ASSOCIATION))
        db.session.commit()


@pytest.fixture
def french_partner(app, create_user) -> Callable[..., tuple[int, object]]:
    """``french_partner()`` → (partner id, owner): a French company with its billing identity."""

    def make(*, locale: str = "fr") -> tuple[int, object]:
        owner = create_user(full_name="Olga Owner", locale=locale)
        with app.app_context():
            partner = Partner(
                name="Voyages Éclair",
                slug=f"voyages-eclair-{uuid.uuid4().hex[:6]}",
                country="FR",
                contact_name="Olga Owner",
                contact_email=owner.email,
                status=PartnerStatus.APPROVED,
            )
            db.session.add(partner)
            db.session.flush()
            db.session.add(
                PartnerMember(partner_id=partner.id, user_id=owner.id, role=TeamRole.OWNER)
            )
            db.session.add(
                PartnerBillingIdentity(
                    partner_id=partner.id,
                    legal_name="Voyages Éclair SAS",
                    address="8 avenue du Départ",
                    postal_code="69002",
                    city="Lyon",
                    country="FR",
                    siren="732829320",
                    siret="73282932000074",
                    vat_number="FR44732829320",
                    po_reference="BC-2091-17",
                )
            )
            db.session.commit()
            return partner.id, owner

    return make


@pytest.fixture
def paid(app) -> Callable[..., int]:
    """``paid(kind=..., amount=..., payer=..., partner_id=...)``: a succeeded payment, fulfilled
    and issued its document as the success transaction does; its id."""

    def make(
        *,
        kind: PaymentKind = PaymentKind.PARTNER_PLAN,
        amount: int = 120000,
        payer=None,
        partner_id: int | None = None,
        subject: dict | None = None,
        at: datetime | None = None,
    ) -> int:
        with app.app_context():
            payment = Payment(
                kind=kind,
                status=PaymentStatus.SUCCEEDED,
                amount=amount,
                currency="eur",
                payer_id=payer.id if payer else None,
                payer_name=payer.full_name if payer else "Élodie Crédit",
                payer_email=payer.email if payer else "elodie@example.org",
                partner_id=partner_id,
                subject=subject if subject is not None else {"plan": "annual", "days": 365},
                description="test",
                succeeded_at=at or utcnow(),
                stripe_payment_intent_id=f"pi_doc_{uuid.uuid4().hex[:10]}",
            )
            db.session.add(payment)
            db.session.flush()
            if kind == PaymentKind.MEMBERSHIP:
                day = (at or utcnow()).date()
                db.session.add(
                    Membership(
                        user_id=payer.id,
                        starts_on=day,
                        ends_on=date(day.year + 1, day.month, day.day),
                        source="payment",
                        payment_id=payment.id,
                    )
                )
                db.session.flush()
            documents.issue_payment_document(payment, at=at)
            db.session.commit()
            return payment.id

    return make


def refund(app, payment_id: int, amount: int) -> Document:
    """Record a succeeded refund as the Stripe sync does; the document it issued."""
    from marketplace.payments import gateway, refunds

    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        row = Refund(payment_id=payment_id, amount=amount, reason="test", status="pending")
        db.session.add(row)
        db.session.flush()
        info = gateway.RefundInfo(
            id=f"re_doc_{uuid.uuid4().hex[:10]}",
            amount=amount,
            status="succeeded",
            charge=None,
            payment_intent=payment.stripe_payment_intent_id,
        )
        refunds.record_stripe_refund(payment, info, row)
        db.session.commit()
        # The document is issued after the commit, in a transaction of its own.
        assert documents.issue_due_documents() == 1
        document = db.session.scalar(select(Document).where(Document.refund_id == row.id))
        db.session.expunge(document)
        return document


def main(app, payment_id: int) -> Document:
    """The payment's invoice or attestation, its stored files loaded."""
    with app.app_context():
        document = documents.main_document(db.session.get(Payment, payment_id))
        db.session.refresh(document, ["pdf", "xml", "snapshot"])  # the deferred files
        db.session.expunge(document)
        return document


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


# ---------------------------------------------------------------- the invoice


def test_the_invoice_carries_every_mandatory_mention(app, association, paid, french_partner):
    partner_id, owner = french_partner()
    moment = datetime(YEAR + 4, 5, 10, 9, tzinfo=UTC)
    payment_id = paid(payer=owner, partner_id=partner_id, at=moment, amount=120000)
    invoice = main(app, payment_id)
    text = pdf_text(invoice.pdf)
    day = long_date(date(YEAR + 4, 5, 10), "fr")
    for mention in (
        "Facture",
        f"F-{YEAR + 4}-000001",
        # seller
        "Amicale des lycées français (test)",
        "3 rue de l'Essai",
        "75001 Paris",
        "SIRET : 12345678200010",
        # buyer
        "Voyages Éclair SAS",
        "8 avenue du Départ",
        "69002 Lyon",
        "SIRET : 73282932000074",
        "Numéro de TVA : FR44732829320",
        "Votre référence de commande : BC-2091-17",
        # dates
        f"Date d’émission {day}",
        f"Échéance {day}",
        f"Payé le {day}",
        # line: designation in the invoice's language, quantity, unit price, VAT
        "Quantité",
        "Prix unitaire HT",
        "Taux de TVA",
        "1 200,00",
        "0 %",
        "Total HT 1 200,00 €",
        "TVA 0,00 €",
        "Total TTC 1 200,00 €",
        "Reste dû 0,00 €",
        # L441-9 / L441-10, VAT mention
        "majoré de 10 points",
        "40 €",
        "Pas d’escompte pour paiement anticipé",
        "TVA non applicable, art. 293 B du CGI",
    ):
        assert mention in text, (mention, text)
    assert invoice.language == "fr"


def test_an_english_invoice_names_its_line_in_english_with_an_inclusive_period(
    app, association, paid, french_partner
):
    from partners.models import PartnerPlan, PartnerPlanPeriod, PlanKind

    partner_id, owner = french_partner(locale="en")
    with app.app_context():
        db.session.add(
            PartnerPlan(
                code="annual",
                kind=PlanKind.PARTNERSHIP,
                name_fr="Partenariat annuel",
                name_en="Annual partnership",
                amount=120000,
                days=365,
            )
        )
        db.session.commit()
    with app.app_context():
        payment_id = paid(payer=owner, partner_id=partner_id)  # no period yet: issued first
    text = pdf_text(main(app, payment_id).pdf)
    assert "Partnership: Annual partnership (365 days)" in text
    assert "partenariat-annuel" not in text
    assert "Partenariat annuel" not in text
    # With its period: the last day covered, not the exclusive end.
    start = date(YEAR + 4, 12, 1)
    with app.app_context():
        payment = Payment(
            kind=PaymentKind.PARTNER_PLAN,
            status=PaymentStatus.SUCCEEDED,
            amount=120000,
            currency="eur",
            payer_id=owner.id,
            payer_name=owner.full_name,
            payer_email=owner.email,
            partner_id=partner_id,
            subject={"plan": "annual", "days": 365},
            description="x",
            succeeded_at=utcnow(),
        )
        db.session.add(payment)
        db.session.flush()
        db.session.add(
            PartnerPlanPeriod(
                partner_id=partner_id,
                starts_on=start,
                ends_on=start + timedelta(days=365),
                payment_id=payment.id,
            )
        )
        db.session.flush()
        document = documents.issue_payment_document(payment)
        text = pdf_text(document.pdf)
    last = long_date(start + timedelta(days=364))
    assert f"Period: {long_date(start)} to {last} inclusive" in text, text


def test_vat_at_the_kind_s_rate_shows_net_and_vat(app, association, paid, french_partner):
    with app.app_context():
        details = db.session.scalar(select(AssociationDetails))
        details.vat_regime = "vat"
        details.vat_number = "FR11123456782"
        details.vat_rate_partner_plan = 2000
        db.session.commit()
    partner_id, owner = french_partner(locale="en")
    invoice = main(app, paid(payer=owner, partner_id=partner_id, amount=120000))
    text = pdf_text(invoice.pdf)
    for mention in (
        "20 %",
        "Total excl. VAT €1,000.00",
        "VAT €200.00",
        "Total incl. VAT €1,200.00",
        "VAT number: FR11123456782",
    ):
        assert mention in text, mention
    assert "293 B" not in text
    assert b"<ram:CategoryCode>S</ram:CategoryCode>" in invoice.xml


def test_vat_is_split_from_prices_tax_included():
    assert document_snapshots.split_gross(120000, 2000) == (100000, 20000)
    assert document_snapshots.split_gross(4900, 2000) == (4083, 817)
    assert document_snapshots.split_gross(4900, 550) == (4645, 255)
    assert document_snapshots.split_gross(4900, 0) == (4900, 0)


def test_a_buyer_abroad_is_addressed_by_e_mail_and_marked_international(
    app, association, paid, create_partner
):
    team = create_partner("Lisboa Livros")
    invoice = main(app, paid(payer=team.owner, partner_id=team.partner_id, amount=4900))
    assert b"<ram:Content>B2BINT</ram:Content>" in invoice.xml
    assert f'schemeID="EM">{team.owner.email}<'.encode() in invoice.xml
    assert "Lisboa Livros Lda" in pdf_text(invoice.pdf)


# ---------------------------------------------------------------- PDF/A-3 and Factur-X


def test_invoices_are_pdf_a_3_with_the_factur_x_xml_embedded(
    app, association, paid, french_partner
):
    partner_id, owner = french_partner()
    invoice = main(app, paid(payer=owner, partner_id=partner_id))
    reader = PdfReader(io.BytesIO(invoice.pdf))
    assert invoice.pdf.startswith(b"%PDF-1.7")
    root = reader.trailer["/Root"]
    intent = root["/OutputIntents"][0].get_object()
    assert intent["/S"] == "/GTS_PDFA1"
    assert b"sRGB" in intent["/DestOutputProfile"].get_object().get_data()
    xmp = root["/Metadata"].get_object().get_data()
    assert b"<pdfaid:part>3</pdfaid:part>" in xmp
    assert b"urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#" in xmp
    assert b"<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            descendant = font.get_object()["/DescendantFonts"][0].get_object()
            assert "/FontFile2" in descendant["/FontDescriptor"].get_object(), "font embedded"
    assert root["/AF"][0].get_object()["/AFRelationship"] == "/Data"
    filename, xml = facturx.get_xml_from_pdf(invoice.pdf, check_xsd=True)
    assert filename == "factur-x.xml"
    assert xml == invoice.xml
    assert einvoice.validator().errors(xml) == []


def test_the_validator_refuses_an_invoice_without_the_french_mentions(
    app, association, paid, french_partner
):
    partner_id, owner = french_partner()
    xml = main(app, paid(payer=owner, partner_id=partner_id)).xml
    broken = xml.replace(b"<ram:SubjectCode>PMT</ram:SubjectCode>", b"")
    errors = einvoice.validator().errors(broken)
    assert any("BR-FR-05" in error for error in errors), errors
    unbalanced = xml.replace(b"<ram:DuePayableAmount>0.00<", b"<ram:DuePayableAmount>5.00<")
    assert einvoice.validator().errors(unbalanced)


def test_attestations_are_pdf_a_in_the_member_s_language(
    app, association, paid, create_user, outbox
):
    from marketplace.membership.models import MembershipTier

    with app.app_context():
        db.session.add(
            MembershipTier(
                code="young-doc", name_fr="Jeune diplômé", name_en="Young graduate", amount=1500
            )
        )
        db.session.commit()
    member = create_user(full_name="Ada Lovelace", locale="en")
    moment = datetime(YEAR + 6, 12, 1, 10, tzinfo=UTC)
    payment_id = paid(
        kind=PaymentKind.MEMBERSHIP,
        amount=1500,
        payer=member,
        at=moment,
        subject={"tier": "young-doc", "months": 12},
    )
    attestation = main(app, payment_id)
    text = pdf_text(attestation.pdf)
    assert attestation.xml is None
    assert f"AT-{YEAR + 6}-000001" in text
    assert "Payment attestation" in text
    assert "Membership dues, Young graduate" in text
    assert "young-doc" not in text
    # The site's "until 30 Nov inclusive": the last day, never the exclusive end.
    end = long_date(date(YEAR + 7, 11, 30))
    assert f"{long_date(date(YEAR + 6, 12, 1))} to {end} inclusive" in text
    assert "not eligible for a tax receipt" in text
    assert (
        b"<pdfaid:part>3</pdfaid:part>"
        in PdfReader(io.BytesIO(attestation.pdf))
        .trailer["/Root"]["/Metadata"]
        .get_object()
        .get_data()
    )


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


# ---------------------------------------------------------------- who downloads


@pytest.fixture
def invoiced(app, association, paid, french_partner) -> tuple[int, object, Document]:
    partner_id, owner = french_partner()
    payment_id = paid(payer=owner, partner_id=partner_id)
    return payment_id, owner, main(app, payment_id)


def test_the_team_downloads_pdf_and_xml_others_get_404(app, login, invoiced, create_user):
    _payment_id, owner, invoice = invoiced
    owner_client = login(app.test_client(), owner)
    pdf = owner_client.get(f"/documents/{invoice.id}.pdf")
    assert pdf.status_code == 200
    assert pdf.data == invoice.pdf
    assert pdf.headers["Content-Disposition"] == f"attachment; filename={invoice.filename}"
    assert pdf.headers["X-Content-Type-Options"] == "nosniff"
    xml = owner_client.get(f"/documents/{invoice.id}.xml")
    assert xml.status_code == 200
    assert xml.data == invoice.xml
    stranger = create_user(alumni=True, status="verified")
    other = login(app.test_client(), stranger)
    assert other.get(f"/documents/{invoice.id}.pdf").status_code == 404
    assert other.get(f"/documents/{invoice.id}.xml").status_code == 404
    assert other.get("/documents/999999999.pdf").status_code == 404
    treasurer = create_user(roles=("treasurer",))
    assert (
        login(app.test_client(), treasurer).get(f"/documents/{invoice.id}.pdf").status_code == 200
    )
    assert (
        login(app.test_client(), treasurer, mfa=False)
        .get(f"/documents/{invoice.id}.pdf")
        .status_code
        == 302
    )
    assert app.test_client().get(f"/documents/{invoice.id}.pdf").status_code == 302


def _token(app, user) -> str:
    from marketplace.accounts import services as accounts

    with app.app_context():
        token, _row = accounts.issue_api_token(db.session.merge(user))
        db.session.commit()
        return token


def test_the_api_lists_documents_whose_urls_download_with_the_same_token(
    app, invoiced, create_user
):
    payment_id, owner, invoice = invoiced
    credit = refund(app, payment_id, 1000)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {_token(app, owner)}"}
    body = client.get(f"/api/v1/payments/{payment_id}", headers=headers).get_json()
    assert [(d["kind"], d["number"]) for d in body["documents"]] == [
        ("invoice", invoice.number),
        ("credit_note", credit.number),
    ]
    for document, stored in zip(body["documents"], (invoice, credit), strict=True):
        pdf = client.get(document["pdf_url"], headers=headers)
        assert pdf.status_code == 200
        assert pdf.data == stored.pdf
        assert pdf.mimetype == "application/pdf"
        xml = client.get(document["xml_url"], headers=headers)
        assert xml.status_code == 200
        assert xml.data == stored.xml
    assert body["receipt_url"] == body["documents"][0]["pdf_url"]
    # Without the token, or with another person's: no document.
    assert client.get(body["documents"][0]["pdf_url"]).status_code == 401
    stranger = {"Authorization": f"Bearer {_token(app, create_user())}"}
    assert client.get(body["documents"][0]["pdf_url"], headers=stranger).status_code == 404
    assert client.get(f"/api/v1/payments/{payment_id}", headers=stranger).status_code == 404


def test_an_attestation_has_no_xml(app, association, paid, create_user, login):
    member = create_user(alumni=True, status="verified")
    attestation = main(app, paid(kind=PaymentKind.MEMBERSHIP, amount=4000, payer=member))
    client = login(app.test_client(), member)
    assert client.get(f"/documents/{attestation.id}.pdf").status_code == 200
    assert client.get(f"/documents/{attestation.id}.xml").status_code == 404


def test_documents_without_xml_advertise_none(app, paid, french_partner, login):
    """While the association has no SIRET, invoices and credit notes are PDF/A without the
    Factur-X XML: neither the API nor the billing page offers an XML to download."""
    with app.app_context():
        db.session.add(AssociationDetails(**{**ASSOCIATION, "siret": None}))
        db.session.commit()
    partner_id, owner = french_partner()
    payment_id = paid(payer=owner, partner_id=partner_id, amount=12000)
    credit = refund(app, payment_id, 2000)
    invoice = main(app, payment_id)
    assert (invoice.xml, credit.xml) == (None, None)
    headers = {"Authorization": f"Bearer {_token(app, owner)}"}
    client = app.test_client()
    body = client.get(f"/api/v1/payments/{payment_id}", headers=headers).get_json()
    assert [d["kind"] for d in body["documents"]] == ["invoice", "credit_note"]
    assert [d for d in body["documents"] if "xml_url" in d] == []
    page = login(app.test_client(), owner).get("/partners/billing/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert invoice.number in html
    assert credit.number in html
    assert f"/documents/{invoice.id}.xml" not in html
    assert f"/documents/{credit.id}.xml" not in html
    assert login(app.test_client(), owner).get(f"/documents/{invoice.id}.xml").status_code == 404


def test_the_billing_page_links_the_xml_of_factur_x_documents(
    app, association, paid, french_partner, login
):
    partner_id, owner = french_partner()
    payment_id = paid(payer=owner, partner_id=partner_id, amount=12000)
    credit = refund(app, payment_id, 2000)
    invoice = main(app, payment_id)
    html = login(app.test_client(), owner).get("/partners/billing/").get_data(as_text=True)
    assert f"/documents/{invoice.id}.xml" in html
    assert f"/documents/{credit.id}.xml" in html


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

"""Payment documents: every mandatory mention of the invoice, PDF/A-3 with Factur-X, attestations.

Every invoice generated here also passes the XSD and the EN 16931 and French CTC schematrons
(``tests/einvoice.py``, run on each generated XML).
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import facturx
from pypdf import PdfReader
from sqlalchemy import select

from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.payments import document_snapshots, documents
from marketplace.payments.models import (
    AssociationDetails,
    Payment,
    PaymentKind,
    PaymentStatus,
)
from tests import einvoice
from tests.einvoice import long_date, pdf_text
from tests.partners import conftest as partner_fixtures
from tests.payments.documents_support import YEAR, main

create_partner = partner_fixtures.create_partner


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

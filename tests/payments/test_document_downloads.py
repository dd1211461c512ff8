"""Payment documents: who downloads them, through the site and the API, and which have XML."""

from __future__ import annotations

import pytest

from marketplace.extensions import db
from marketplace.payments.document_models import Document
from marketplace.payments.models import (
    AssociationDetails,
    PaymentKind,
)
from tests.payments.documents_support import ASSOCIATION, main, refund

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

"""The partner's billing identity and the partner billing API: asked before the first payment,
checked (SIREN / SIRET check digits, intra-EU VAT shape), snapshotted on each invoice; the API
(``/api/v1/partner/billing``) lists plans, sets the identity, starts a checkout (409 without an
identity) whose payment is confirmed and read like a membership's, documents included."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from marketplace.accounts import services as accounts
from marketplace.audit import AuditLog
from marketplace.extensions import db
from marketplace.payments.identifiers import (
    siren_is_valid,
    siret_is_valid,
    vat_number_is_valid,
)
from marketplace.payments.models import AssociationDetails, Payment, PaymentKind
from partners.models import PartnerBillingIdentity, PartnerPlan, PlanKind
from tests.einvoice import pdf_text
from tests.offers import conftest as offer_fixtures
from tests.partners.conftest import Team
from tests.payments import conftest as payment_fixtures
from tests.payments.test_membership_api import confirm_setup

create_offer = offer_fixtures.create_offer
stripe_app = payment_fixtures.stripe_app

EN = {"Accept-Language": "en"}
IDENTITY = {
    "legal_name": "Voyages Éclair SAS",
    "address": "8 avenue du Départ",
    "postal_code": "69002",
    "city": "Lyon",
    "country": "FR",
    "siren": "732829320",
    "siret": "",
    "vat_number": "FR44 732 829 320",
    "po_reference": "BC-17",
}


@pytest.fixture
def plans(app) -> None:
    with app.app_context():
        db.session.add_all(
            [
                PartnerPlan(
                    code="annual",
                    kind=PlanKind.PARTNERSHIP,
                    name_fr="Partenariat annuel",
                    name_en="Annual partnership",
                    amount=120000,
                    days=365,
                ),
                PartnerPlan(
                    code="featured-7",
                    kind=PlanKind.FEATURED,
                    name_fr="Mise en avant",
                    name_en="Featured",
                    amount=4900,
                    days=7,
                ),
            ]
        )
        db.session.add(
            AssociationDetails(
                name="Amicale (test)",
                address="3 rue de l'Essai",
                postal_code="75001",
                city="Paris",
                siret="12345678200010",
            )
        )
        db.session.commit()


@pytest.fixture
def newcomer(create_partner: Callable[..., Team]) -> Team:
    """An approved partner that has not entered its billing identity yet."""
    return create_partner("Voyages Éclair", identity=False)


def _identity(app, team: Team) -> PartnerBillingIdentity | None:
    with app.app_context():
        return db.session.scalar(
            select(PartnerBillingIdentity).where(
                PartnerBillingIdentity.partner_id == team.partner_id
            )
        )


def test_identifiers_are_checked_with_their_check_digit():
    assert siren_is_valid("732829320")
    assert not siren_is_valid("732829321")
    assert siret_is_valid("73282932000074")
    assert not siret_is_valid("73282932000075")
    assert siret_is_valid("35600000000001")  # La Poste: its digits sum to a multiple of 5
    assert vat_number_is_valid("FR44732829320")
    assert not vat_number_is_valid("FR45732829320")
    assert vat_number_is_valid("DE123456789")
    assert not vat_number_is_valid("XX123")


# ---------------------------------------------------------------- the page


def test_the_identity_is_asked_before_the_first_payment(
    app, client, login, plans, newcomer, create_offer
):
    login(client, newcomer.owner)
    page = client.get("/partners/billing/", headers=EN).get_data(as_text=True)
    assert 'id="identity-summary" data-complete="0"' in page
    response = client.post("/partners/billing/partnership/annual")
    assert response.status_code == 302
    assert "/partners/billing/identity" in response.headers["Location"]
    with app.app_context():
        assert db.session.scalars(select(Payment)).all() == []
    # The form starts from the company's name and country.
    form = client.get(response.headers["Location"], headers=EN).get_data(as_text=True)
    assert 'value="Voyages Éclair"' in form
    # A featured placement too: back to the offer's page once the identity is saved.
    offer = create_offer(SimpleNamespace(id=newcomer.partner_id, name="x"), status="published")
    response = client.post(f"/partners/billing/offers/{offer.id}/feature/featured-7")
    assert "next=" in response.headers["Location"]
    saved = client.post(response.headers["Location"], data=IDENTITY)
    assert saved.status_code == 302
    assert saved.headers["Location"].endswith(f"/partners/billing/offers/{offer.id}/feature")
    identity = _identity(app, newcomer)
    assert (identity.siren, identity.siret, identity.vat_number) == (
        "732829320",
        None,
        "FR44732829320",
    )
    with app.app_context():
        (entry,) = db.session.scalars(
            select(AuditLog).where(AuditLog.action == "partner.billing_identity")
        ).all()
        assert entry.actor_id == newcomer.owner.id


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("siren", "732829321"),  # wrong check digit
        ("siret", "73282932000075"),
        ("vat_number", "FR45732829320"),
        ("legal_name", ""),
        ("postal_code", ""),
    ],
)
def test_a_wrong_identity_is_refused_with_the_field_s_error(
    app, client, login, newcomer, field, value
):
    login(client, newcomer.owner)
    response = client.post("/partners/billing/identity", data={**IDENTITY, field: value})
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert _identity(app, newcomer) is None


def test_a_french_company_gives_its_siren_or_siret_a_foreign_one_need_not(
    app, client, login, newcomer
):
    login(client, newcomer.owner)
    response = client.post("/partners/billing/identity", data={**IDENTITY, "siren": ""})
    assert response.status_code == 422
    assert 'id="siren-error"' in response.get_data(as_text=True)
    abroad = {**IDENTITY, "siren": "", "country": "PT", "vat_number": "PT501964843"}
    assert client.post("/partners/billing/identity", data=abroad).status_code == 302
    assert _identity(app, newcomer).country == "PT"


def test_a_siret_gives_the_siren(app, client, login, newcomer):
    login(client, newcomer.owner)
    data = {**IDENTITY, "siren": "", "siret": "732 829 320 00074"}
    assert client.post("/partners/billing/identity", data=data).status_code == 302
    identity = _identity(app, newcomer)
    assert (identity.siren, identity.siret) == ("732829320", "73282932000074")


def test_the_next_address_stays_on_the_billing_pages(app, client, login, newcomer):
    login(client, newcomer.owner)
    response = client.post("/partners/billing/identity?next=https://evil.example/x", data=IDENTITY)
    assert response.headers["Location"].endswith("/partners/billing/")


# ---------------------------------------------------------------- the API


def _token(app, user) -> dict[str, str]:
    with app.app_context():
        token, _row = accounts.issue_api_token(db.session.merge(user))
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_the_api_lists_plans_identity_and_the_partnership_end(app, plans, newcomer, add_member):
    client = app.test_client()
    manager, _id = add_member(newcomer, "manager")
    headers = _token(app, manager)
    body = client.get("/api/v1/partner/billing", headers=headers).get_json()
    assert body["identity"] is None
    assert body["partner_until"] is None
    assert {
        (p["code"], p["kind"], p["amount"], p["currency"], p["days"]) for p in body["plans"]
    } == {
        ("annual", "partnership", 120000, "eur", 365),
        ("featured-7", "featured", 4900, "eur", 7),
    }
    assert client.get("/api/v1/partner/billing").status_code == 401


def test_checkout_needs_the_identity_then_pays_and_lists_the_invoice(
    app, plans, newcomer, localstripe, stripe_app
):
    client = app.test_client()
    headers = _token(app, newcomer.owner)
    refused = client.post(
        "/api/v1/partner/billing/checkout", json={"plan": "annual"}, headers=headers
    )
    assert refused.status_code == 409
    assert refused.get_json()["errors"] == {"reason": "billing_identity_missing"}
    bad = client.put(
        "/api/v1/partner/billing/identity",
        json={**IDENTITY, "siren": "732829321"},
        headers=headers,
    )
    assert bad.status_code == 422
    assert "siren" in bad.get_json()["errors"]["json"]
    saved = client.put("/api/v1/partner/billing/identity", json=IDENTITY, headers=headers)
    assert saved.status_code == 200
    assert saved.get_json()["siren"] == "732829320"
    assert saved.get_json()["vat_number"] == "FR44732829320"
    started = client.post(
        "/api/v1/partner/billing/checkout", json={"plan": "annual"}, headers=headers
    )
    assert started.status_code == 201, started.get_json()
    body = started.get_json()
    assert set(body) == {
        "payment_id",
        "amount",
        "currency",
        "setup_intent_client_secret",
        "publishable_key",
    }
    assert (body["amount"], body["currency"]) == (120000, "eur")
    method = confirm_setup(localstripe, body["setup_intent_client_secret"])
    confirmed = client.post(
        f"/api/v1/payments/{body['payment_id']}/confirm",
        json={"payment_method": method},
        headers=headers,
    )
    assert confirmed.get_json()["status"] == "succeeded"
    payment = client.get(f"/api/v1/payments/{body['payment_id']}", headers=headers).get_json()
    [invoice] = payment["documents"]
    assert invoice["kind"] == "invoice"
    assert re.fullmatch(r"F-\d{4}-\d{6}", invoice["number"])
    pdf = client.get(invoice["pdf_url"], headers=headers)
    assert pdf.status_code == 200
    text = pdf_text(pdf.data)
    assert "Voyages Éclair SAS" in text
    assert "BC-17" in text
    xml = client.get(invoice["xml_url"], headers=headers)
    assert b'<ram:ID schemeID="0002">732829320</ram:ID>' in xml.data
    assert client.get("/api/v1/partner/billing", headers=headers).get_json()["partner_until"]


def test_a_featured_checkout_needs_one_of_the_partner_s_published_offers(
    app, plans, create_partner, create_offer
):
    team, rival = create_partner("Mine"), create_partner("Rival")
    mine = create_offer(SimpleNamespace(id=team.partner_id, name="x"), status="published")
    theirs = create_offer(SimpleNamespace(id=rival.partner_id, name="y"), status="published")
    client = app.test_client()
    headers = _token(app, team.owner)
    url = "/api/v1/partner/billing/checkout"
    missing = client.post(url, json={"plan": "featured-7"}, headers=headers)
    assert missing.status_code == 422
    assert "offer_id" in missing.get_json()["errors"]["json"]
    other = client.post(url, json={"plan": "featured-7", "offer_id": theirs.id}, headers=headers)
    assert other.status_code == 404
    assert client.post(url, json={"plan": "nope"}, headers=headers).status_code == 404
    with app.app_context():
        assert (
            db.session.scalars(select(Payment).where(Payment.kind == PaymentKind.FEATURED)).all()
            == []
        )
    assert mine.id


def test_a_session_cannot_write_through_the_billing_api(app, login, newcomer):
    client = login(app.test_client(), newcomer.owner)
    assert client.get("/api/v1/partner/billing").status_code == 200
    assert client.put("/api/v1/partner/billing/identity", json=IDENTITY).status_code == 401


def test_a_plan_left_in_another_currency_is_not_sold(app, plans, create_partner):
    """A plan priced in another currency before plans were euros only is neither listed nor
    sold: its invoice would not be a French invoice in euros."""
    team = create_partner("Dollar Shop")
    with app.app_context():
        db.session.add(
            PartnerPlan(
                code="annual-usd",
                kind=PlanKind.PARTNERSHIP,
                name_fr="Partenariat (USD)",
                amount=130000,
                currency="usd",
                days=365,
            )
        )
        db.session.commit()
    client = app.test_client()
    headers = _token(app, team.owner)
    body = client.get("/api/v1/partner/billing", headers=headers).get_json()
    assert "annual-usd" not in {plan["code"] for plan in body["plans"]}
    refused = client.post(
        "/api/v1/partner/billing/checkout", json={"plan": "annual-usd"}, headers=headers
    )
    assert refused.status_code == 404
    with app.app_context():
        assert (
            db.session.scalar(select(Payment).where(Payment.partner_id == team.partner_id)) is None
        )

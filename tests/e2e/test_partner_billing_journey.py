"""Journey of a partner paying a featured placement: the demo owner of "Librairie Voltaire" opens
the billing page, features a published offer for 7 days, is asked for the company's billing
identity first, pays with a card on the page (localstripe's Stripe.js stand-in), downloads the
invoice (a Factur-X PDF whose text holds every mandatory mention), sees the offer first in the
public listing with its badge; a refund made in Stripe then gives a credit note referencing the
invoice."""

from __future__ import annotations

import re
import urllib.request

import pytest
from sqlalchemy import create_engine, text

from marketplace.config import normalise_database_url
from marketplace.seed import DEMO_PASSWORD
from tests import einvoice
from tests.e2e.conftest import STRIPE_WEBHOOK_SECRET
from tests.e2e.test_offer_journey import sign_in
from tests.e2e.test_payment_journey import console_error
from tests.payments.conftest import event, sign, stripe_api

pytestmark = pytest.mark.e2e

OWNER = "partner-owner@example.org"
VISA = "4242424242424242"


def _intent_of(live_app, payment_id: int) -> str:
    engine = create_engine(normalise_database_url(live_app.env["DATABASE_URL"]))
    try:
        with engine.connect() as connection:
            return connection.execute(
                text("SELECT stripe_payment_intent_id FROM payments WHERE id = :id"),
                {"id": payment_id},
            ).scalar_one()
    finally:
        engine.dispose()


def _refund_in_stripe(live_app, localstripe: str, payment_id: int, amount: int) -> None:
    """A refund made in Stripe's dashboard, then its signed ``charge.refunded`` event."""
    intent = stripe_api(
        localstripe, "GET", f"/v1/payment_intents/{_intent_of(live_app, payment_id)}"
    )
    stripe_api(localstripe, "POST", "/v1/refunds", payment_intent=intent["id"], amount=amount)
    charge = intent["latest_charge"]
    body = event(
        "charge.refunded",
        {"id": charge if isinstance(charge, str) else charge["id"], "object": "charge"},
    )
    request = urllib.request.Request(  # noqa: S310 - the live app
        f"{live_app.url}/payments/stripe/webhook",
        data=body,
        headers={
            "Stripe-Signature": sign(body, STRIPE_WEBHOOK_SECRET),
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        assert response.status == 200


def test_partner_owner_pays_a_featured_placement_and_downloads_the_invoice(
    demo_data, open_page, live_app, localstripe
):
    page = open_page("en")
    problems: list[str] = []
    page.on("console", lambda message: problems.extend(console_error(message)))
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    sign_in(page, OWNER, DEMO_PASSWORD)

    page.goto("/partners/dashboard")
    page.locator("#portal-billing").click()
    page.wait_for_url(re.compile(r"/partners/billing/$"))
    assert page.locator("#plan-partenariat-annuel").is_visible()
    # The company's billing identity, printed on every invoice (the demo partner has one:
    # the owner brings it up to date before paying).
    page.locator("#edit-identity").click()
    page.wait_for_url(re.compile(r"/partners/billing/identity"))
    form = page.locator("#billing-identity-form")
    form.locator("#legal_name").fill("Librairie Voltaire SARL")
    form.locator("#address").fill("12 rue de la Harpe")
    form.locator("#postal_code").fill("75005")
    form.locator("#city").fill("Paris")
    form.locator("#siren").fill("732829320")
    form.locator("#siret").fill("73282932000074")
    form.locator("#vat_number").fill("FR44732829320")
    form.locator("#billing-identity-save").click()
    page.wait_for_url(re.compile(r"/partners/billing/$"))
    feature_link = page.locator("#featurable-offers a[id^=feature-]").first
    offer_id = int(feature_link.get_attribute("id").split("-")[1])
    feature_link.click()
    page.wait_for_url(re.compile(rf"/partners/billing/offers/{offer_id}/feature$"))
    page.locator("#buy-mise-en-avant-7").click()
    page.wait_for_url(re.compile(r"/partners/billing/pay/\d+$"))
    payment_id = int(page.url.rsplit("/", 1)[1])

    element = page.locator("#card-element")
    element.locator("input[placeholder=number]").fill(VISA)
    element.locator("input[placeholder=exp_month]").fill("12")
    element.locator("input[placeholder=exp_year]").fill("34")
    element.locator("input[placeholder=cvc]").fill("123")
    element.locator("input[placeholder=postal_code]").fill("75003")
    with page.expect_response(re.compile(r"/partners/billing/pay/\d+/confirm$")) as confirmed:
        page.locator("#card-submit").click()
    assert confirmed.value.json()["status"] == "succeeded"
    page.locator("#card-done").wait_for(state="visible")
    assert page.locator("#card-status.flash-error").count() == 0

    # The billing page lists the paid placement and its invoice.
    page.goto("/partners/billing/")
    row = page.locator(f"#payment-{payment_id}")
    assert row.get_attribute("data-status") == "succeeded"
    assert page.locator(f"#featurable-{offer_id} [data-featured-until]").count() == 1
    response = page.request.get(f"/documents/payments/{payment_id}.pdf")
    assert response.status == 200
    disposition = re.fullmatch(
        r"attachment; filename=facture-(F-\d{4}-\d{6})\.pdf",
        response.headers["content-disposition"],
    )
    assert disposition
    invoice_number = disposition.group(1)
    assert response.body().startswith(b"%PDF-1.7")
    # Every mention of Code de commerce L441-9 / L441-10, read back from the PDF (in French,
    # the owner's language).
    invoice = einvoice.pdf_text(response.body())
    for mention in (
        "Facture",
        invoice_number,
        "Date d’émission",
        "Association des anciens élèves",
        "SIRET : 12345678200010",  # the seller
        "Librairie Voltaire SARL",
        "12 rue de la Harpe",
        "75005 Paris",
        "SIRET : 73282932000074",
        "Numéro de TVA : FR44732829320",
        "Mise en avant de l’offre",
        "Période : du",
        "inclus",
        "Quantité",
        "Prix unitaire HT",
        "Taux de TVA",
        "Total HT",
        "TVA",
        "Total TTC",
        "49,00 €",
        "Échéance",
        "Payé le",
        "majoré de 10 points",
        "40 €",
        "Pas d’escompte pour paiement anticipé",
        "TVA non applicable, art. 293 B du CGI",
    ):
        assert mention in invoice, mention
    xml = page.request.get(
        page.locator(f"#payment-{payment_id} a[href$='.xml']").first.get_attribute("href")
    )
    assert xml.status == 200
    assert einvoice.validator().errors(xml.body()) == []

    # The public listing shows the featured offer first, with its badge.
    page.goto("/offers/")
    first = page.locator("article.offer-card").first
    assert first.get_attribute("data-offer-id") == str(offer_id)
    assert first.locator("[data-featured]").is_visible()

    # A refund made in Stripe gives a credit note referencing the invoice.
    _refund_in_stripe(live_app, localstripe, payment_id, 2000)
    # Stripe's own refund events arrive in their own time (the strict stand-in sends them
    # asynchronously, as Stripe does): the partner reloads until the credit note is listed.
    credit_link = page.locator(f"#payment-{payment_id} a.credit-note-link")
    for _attempt in range(40):
        page.goto("/partners/billing/")
        if credit_link.count():
            break
        page.wait_for_timeout(250)
    credit_link.wait_for()
    credit = page.request.get(credit_link.get_attribute("href"))
    assert credit.status == 200
    note = einvoice.pdf_text(credit.body())
    assert "Avoir" in note
    assert invoice_number in note
    assert "20,00 €" in note
    assert problems == [], problems

"""Journey of a partner paying a featured placement: the demo owner of "Librairie Voltaire" opens
the billing page, features a published offer for 7 days, pays with a card on the page
(localstripe's Stripe.js stand-in), downloads the invoice, and sees the offer first in the
public listing with its badge."""

from __future__ import annotations

import re

import pytest

from marketplace.seed import DEMO_PASSWORD
from tests.e2e.test_offer_journey import sign_in
from tests.e2e.test_payment_journey import console_error

pytestmark = pytest.mark.e2e

OWNER = "partner-owner@example.org"
VISA = "4242424242424242"


def test_partner_owner_pays_a_featured_placement_and_downloads_the_invoice(demo_data, open_page):
    page = open_page("en")
    problems: list[str] = []
    page.on("console", lambda message: problems.extend(console_error(message)))
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    sign_in(page, OWNER, DEMO_PASSWORD)

    page.goto("/partners/dashboard")
    page.locator("#portal-billing").click()
    page.wait_for_url(re.compile(r"/partners/billing/$"))
    assert page.locator("#plan-partenariat-annuel").is_visible()
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
    assert re.fullmatch(
        r"attachment; filename=facture-\d{4}-\d{6}\.pdf", response.headers["content-disposition"]
    )
    assert response.body().startswith(b"%PDF")

    # The public listing shows the featured offer first, with its badge.
    page.goto("/offers/")
    first = page.locator("article.offer-card").first
    assert first.get_attribute("data-offer-id") == str(offer_id)
    assert first.locator("[data-featured]").is_visible()
    assert problems == [], problems

"""Journey of a membership paid by card: a verified alumnus pays the standard tier on the pay page
with localstripe's Stripe.js stand-in and a 3-D Secure card, sees the membership active, downloads
the attestation PDF and then redeems a members-only offer."""

from __future__ import annotations

import re
import uuid

import pytest

from marketplace.seed import DEMO_STAFF
from tests.e2e.test_offer_journey import PASSWORD, api, sign_in

pytestmark = pytest.mark.e2e

MODERATOR = next(staff for staff in DEMO_STAFF if staff[2] == "moderator")
# localstripe asks for 3-D Secure on every payment with this card.
THREE_D_SECURE = "4000002760003184"
MEMBERS_CODE = "MEMBRES-2026-ZX"


def console_error(message) -> list[str]:
    """A console error as text (none for the site's missing favicon, which is not the page's)."""
    url = message.location.get("url", "")
    if message.type != "error" or url.endswith("/favicon.ico"):
        return []
    return [f"console error: {message.text} ({url})"]


@pytest.fixture(scope="module")
def members_offer(demo_data, flask_cli, live_server) -> int:
    """A published offer reserved to paying members, with one shared code (its id)."""
    owner = f"owner-{uuid.uuid4().hex[:8]}@atelier.example"
    flask_cli("users", "create", owner, "--password", PASSWORD, "--name", "Hugo Petit")
    flask_cli("partners", "create", "Atelier des membres", "--owner", owner, "--approved")
    partner_token = flask_cli("users", "token", owner).strip()
    moderator_token = flask_cli("users", "token", MODERATOR[0]).strip()
    status, offer = api(
        live_server,
        "POST",
        "/api/v1/partner/offers",
        partner_token,
        {
            "title_fr": "Visite privée de l'atelier",
            "summary_fr": "Une visite réservée aux membres de l'association.",
            "description_fr": "Donnez le code à l'accueil de l'atelier.",
            "redemption_method": "shared_code",
            "shared_code": MEMBERS_CODE,
            "audience": "members",
        },
    )
    assert status == 201, offer
    assert offer["audience"] == "members"
    status, body = api(
        live_server, "POST", f"/api/v1/partner/offers/{offer['id']}/submit", partner_token
    )
    assert status == 200, body
    status, body = api(
        live_server,
        "POST",
        f"/api/v1/moderation/offers/{offer['id']}/approve",
        moderator_token,
        {},
    )
    assert status == 200, body
    assert body["status"] == "published"
    return offer["id"]


@pytest.fixture
def alumnus(demo_data, flask_cli) -> str:
    """A verified alumnus, not a member yet (their e-mail)."""
    email = f"member-{uuid.uuid4().hex[:8]}@example.org"
    flask_cli(
        "users", "create", email, "--password", PASSWORD, "--alumni", "--verified",
        "--name", "Inès Garnier",
    )  # fmt: skip
    return email


def test_alumnus_pays_membership_with_3ds_downloads_attestation_and_redeems(
    alumnus, members_offer, open_page
):
    page = open_page("en")
    problems: list[str] = []
    page.on("console", lambda message: problems.extend(console_error(message)))
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    sign_in(page, alumnus, PASSWORD)

    # Not a member yet: the members-only offer says so, with the price and a way to join
    # that comes back to the offer once paid.
    page.goto(f"/offers/{members_offer}")
    assert page.locator("#offer-action").get_attribute("data-reader-state") == "members_only"
    assert page.locator("#redeem-form").count() == 0
    assert page.locator("#offer-membership-price").is_visible()
    page.locator("#offer-join").click()
    page.wait_for_url(f"**/membership/?offer={members_offer}")

    # The membership page: not a member yet; the standard tier is paid by card.
    assert page.locator("#membership-status").get_attribute("data-status") == "none"
    page.locator("#pay-standard").click()
    page.wait_for_url(re.compile(rf"/membership/pay/\d+\?offer={members_offer}$"))
    payment_id = int(re.search(r"/pay/(\d+)", page.url).group(1))

    # localstripe's card inputs, mounted in #card-element by checkout.js.
    element = page.locator("#card-element")
    element.locator("input[placeholder=number]").fill(THREE_D_SECURE)
    element.locator("input[placeholder=exp_month]").fill("12")
    element.locator("input[placeholder=exp_year]").fill("34")
    element.locator("input[placeholder=cvc]").fill("123")
    element.locator("input[placeholder=postal_code]").fill("75003")
    page.locator("#card-submit").click()

    # The bank asks for 3-D Secure twice (localstripe's modal): when the card is saved
    # (confirmCardSetup), then for the payment itself (confirmCardPayment); both completed.
    with page.expect_response(re.compile(r"/membership/pay/\d+/confirm$")) as confirmed:
        page.get_by_role("button", name="Complete authentication").click()
    assert confirmed.value.json()["status"] == "requires_action"
    with page.expect_response(re.compile(r"/membership/pay/\d+/sync$")) as synced:
        page.get_by_role("button", name="Complete authentication").click()
    assert synced.value.json()["status"] == "succeeded"

    # The success state.
    page.locator("#card-done").wait_for(state="visible")
    assert page.locator("#card-form").is_hidden()
    assert page.locator("#card-again").is_hidden()
    assert page.locator("#card-status").inner_text().strip()
    assert page.locator("#card-status.flash-error").count() == 0
    assert page.locator("#card-done a[role=button]").get_attribute("href") == (
        f"/offers/{members_offer}"
    )
    assert problems == [], problems

    # The pay page, reloaded, says it succeeded; the membership is active.
    page.reload()
    assert page.locator("#payment-result").get_attribute("data-status") == "succeeded"
    page.goto("/membership/")
    assert page.locator("#membership-status").get_attribute("data-status") == "active"
    assert "Standard" in page.locator("#membership-state").inner_text()
    assert page.locator("#membership-history tbody tr").count() == 1
    assert page.locator("#auto-renew-form").is_visible()

    # The attestation, with the browser's session.
    response = page.request.get(f"/documents/payments/{payment_id}.pdf")
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert re.fullmatch(
        r"attachment; filename=attestation-AT-\d{4}-\d{6}\.pdf",
        response.headers["content-disposition"],
    )
    assert response.body().startswith(b"%PDF")

    # Now a member: back to the offer, redeemed, its code shown.
    page.goto(f"/membership/pay/{payment_id}?offer={members_offer}")
    page.locator(f"a[href='/offers/{members_offer}']").click()
    page.wait_for_url(f"**/offers/{members_offer}")
    assert page.locator("#offer-action").get_attribute("data-reader-state") == "can_redeem"
    page.locator("#redeem-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/offers/wallet/\d+$"))
    assert page.locator(".flash-success").is_visible()
    assert page.locator("#benefit-code").inner_text().strip() == MEMBERS_CODE
    assert problems == [], problems

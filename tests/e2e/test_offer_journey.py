"""Journeys of the offers marketplace: a partner publishes an offer with a CSV of unique codes,
a moderator approves it, an alumnus finds it by a word of its description and redeems it; and a
QR pass that the partner checks on a phone-size page, usable once."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
import qrcode
import qrcode.image.svg

from marketplace.seed import DEMO_PASSWORD, DEMO_STAFF
from tests.e2e.conftest import totp_code

pytestmark = pytest.mark.e2e

MODERATOR = next(staff for staff in DEMO_STAFF if staff[2] == "moderator")
PASSWORD = "a long and unusual passphrase 2026"
# Not the demo data's "Librairie Voltaire": the queue must show this one.
PARTNER_NAME = "Librairie Voltaire du Marais"
# A word no other offer (demo data included) has in its description.
WORD = "xylographie"
CODES = [f"VOLT-{number:04d}-XY" for number in range(1, 6)]
PHONE = {"width": 390, "height": 844}


# ---------------------------------------------------------------- helpers


def sign_in(page, email: str, password: str) -> None:
    page.goto("/accounts/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("form[action*='/accounts/login'] button[type=submit]").click()
    page.wait_for_load_state()


def sign_in_moderator(page) -> None:
    """The demo moderator: password, then a fresh two-factor code."""
    email, _name, _role, secret = MODERATOR
    sign_in(page, email, DEMO_PASSWORD)
    page.wait_for_url("**/accounts/two-factor**")
    page.locator("#code").fill(totp_code(secret))
    page.locator("form[action*='/accounts/two-factor'] button[type=submit]").click()
    page.wait_for_load_state()
    assert "/accounts/two-factor" not in page.url, "the two-factor code was refused"


def numbers(text: str) -> list[int]:
    return [int(found) for found in re.findall(r"\d+", text)]


def api(base: str, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    """A JSON API call with a bearer token: (status, decoded body)."""
    request = urllib.request.Request(  # noqa: S310 - the live test server
        f"{base}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def qr_path(svg: str) -> str:
    """The ``d`` attribute of a QR code's SVG path (what encodes the data)."""
    match = re.search(r'<path[^>]*\sd="([^"]+)"', svg)
    assert match, f"no QR path in {svg[:300]}"
    return match.group(1)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def partner_owner(demo_data, flask_cli) -> str:
    """The owner of the approved partner "Librairie Voltaire" (its e-mail)."""
    email = f"owner-{uuid.uuid4().hex[:8]}@voltaire.example"
    flask_cli("users", "create", email, "--password", PASSWORD, "--name", "Camille Roux")
    flask_cli("partners", "create", PARTNER_NAME, "--owner", email, "--approved")
    return email


@pytest.fixture(scope="module")
def alumnus(demo_data, flask_cli) -> str:
    """A verified alumnus (their e-mail)."""
    email = f"alumnus-{uuid.uuid4().hex[:8]}@example.org"
    flask_cli(
        "users", "create", email, "--password", PASSWORD, "--alumni", "--verified",
        "--name", "Léa Martin",
    )  # fmt: skip
    return email


# ---------------------------------------------------------------- journeys


def test_partner_offer_with_codes_is_approved_found_and_redeemed(partner_owner, alumnus, open_page):
    # The partner writes a draft offer with unique codes, in French.
    partner = open_page("fr")
    sign_in(partner, partner_owner, PASSWORD)
    partner.goto("/offers/manage/")
    assert partner.locator("#no-offers").is_visible()
    partner.locator("#new-offer").click()
    partner.wait_for_url("**/offers/manage/new")
    partner.locator("#title_fr").fill("Gravures anciennes à -20 %")
    partner.locator("#summary_fr").fill("Une remise sur les estampes de la librairie.")
    partner.locator("#description_fr").fill(
        f"Vingt pour cent sur nos estampes et la **{WORD}** du XVIIIᵉ siècle."
    )
    partner.locator("#redemption_method").select_option("unique_codes")
    partner.locator("#save-offer").click()
    partner.wait_for_url(re.compile(r"/offers/manage/\d+$"))
    offer_id = int(partner.url.rsplit("/", 1)[1])
    assert partner.locator(".offer-status-draft").is_visible()
    # Not complete without codes: the page says what is missing.
    assert partner.locator("#missing").is_visible()

    # Five codes from a CSV file (with a header line, skipped).
    csv = "code\n" + "\n".join(CODES) + "\n"
    partner.locator("#codes-form input[type=file]").set_input_files(
        files=[{"name": "codes.csv", "mimeType": "text/csv", "buffer": csv.encode()}]
    )
    partner.locator("#upload-codes").click()
    partner.wait_for_url(f"**/offers/manage/{offer_id}")
    assert partner.locator(".flash-success").is_visible()
    assert numbers(partner.locator("#pool-counts").inner_text()) == [5, 5]
    assert partner.locator("#missing").count() == 0

    # It is sent for review.
    partner.locator("#submit-offer").click()
    partner.wait_for_url(f"**/offers/manage/{offer_id}")
    assert partner.locator(".offer-status-submitted").is_visible()
    assert partner.locator("#submit-offer").count() == 0

    # A moderator signs in with a two-factor code and approves it from the queue.
    moderator = open_page("fr")
    sign_in_moderator(moderator)
    moderator.goto("/offers/moderation/")
    queued = moderator.locator(f"#queued-{offer_id}")
    assert queued.is_visible()
    assert PARTNER_NAME in queued.inner_text()
    queued.get_by_role("link").click()
    moderator.wait_for_url(f"**/offers/moderation/{offer_id}")
    assert WORD in moderator.locator("#version-fr .offer-description").inner_text()
    assert numbers(moderator.locator("#pool-counts").inner_text()) == [5, 5]
    moderator.locator("#approve-offer").click()
    moderator.wait_for_url("**/offers/moderation/")
    assert moderator.locator(".flash-success").is_visible()
    assert moderator.locator(f"#queued-{offer_id}").count() == 0

    # The partner sees it published.
    partner.reload()
    assert partner.locator(".offer-status-published").is_visible()

    # The alumnus finds it by a word of its description, in the search box.
    member = open_page("fr")
    sign_in(member, alumnus, PASSWORD)
    member.goto("/offers/")
    member.locator("#filter-q").fill(WORD)
    member.locator("#filter-q").press("Enter")
    member.wait_for_url(re.compile(rf"/offers/\?.*q={WORD}"))
    cards = member.locator("article.offer-card")
    assert cards.count() == 1
    assert cards.first.get_attribute("data-offer-id") == str(offer_id)
    cards.first.locator("h2 a").click()
    member.wait_for_url(f"**/offers/{offer_id}")
    assert WORD in member.locator("#offer-description").inner_text()

    # …redeems it and gets one of the five codes, kept in the wallet.
    member.locator("#redeem-form button[type=submit]").click()
    member.wait_for_url(re.compile(r"/offers/wallet/\d+$"))
    assert member.locator(".flash-success").is_visible()
    code = member.locator("#benefit-code").inner_text().strip()
    assert code in CODES
    member.goto("/offers/wallet/")
    assert member.locator("#wallet code.wallet-code").inner_text().strip() == code

    # The partner's pool has one code less.
    partner.reload()
    assert numbers(partner.locator("#pool-counts").inner_text()) == [4, 5]


def test_partner_checks_a_qr_pass_on_a_phone(
    partner_owner, alumnus, flask_cli, live_server, open_page
):
    # A voucher offer, created and approved through the API (the first journey covers the pages).
    partner_token = flask_cli("users", "token", partner_owner).strip()
    moderator_token = flask_cli("users", "token", MODERATOR[0]).strip()
    status, offer = api(
        live_server,
        "POST",
        "/api/v1/partner/offers",
        partner_token,
        {
            "title_fr": "Atelier de reliure offert",
            "summary_fr": "Une séance d'initiation à la reliure.",
            "description_fr": "Présentez votre pass à l'accueil de la librairie.",
            "redemption_method": "voucher",
        },
    )
    assert status == 201, offer
    offer_id = offer["id"]
    status, body = api(
        live_server, "POST", f"/api/v1/partner/offers/{offer_id}/submit", partner_token
    )
    assert status == 200, body
    status, body = api(
        live_server, "POST", f"/api/v1/moderation/offers/{offer_id}/approve", moderator_token, {}
    )
    assert status == 200, body
    assert body["status"] == "published"

    # The alumnus, on a phone, redeems it and gets a QR pass.
    member = open_page("fr")
    assert member.viewport_size == PHONE
    sign_in(member, alumnus, PASSWORD)
    member.goto(f"/offers/{offer_id}")
    member.locator("#redeem-form button[type=submit]").click()
    member.wait_for_url(re.compile(r"/offers/wallet/\d+$"))
    redemption_id = int(member.url.rsplit("/", 1)[1])
    qr = member.locator("#voucher-qr svg")
    assert qr.is_visible()
    box = qr.bounding_box()
    assert box is not None
    assert box["width"] <= PHONE["width"]

    # The pass's address, as the API gives it (a GET with the browser's session).
    response = member.request.get("/api/v1/me/redemptions")
    assert response.status == 200
    [mine] = [row for row in response.json() if row["id"] == redemption_id]
    voucher_url = mine["voucher_url"]
    assert re.fullmatch(rf"{re.escape(live_server)}/offers/wallet/check/[\w-]+", voucher_url)
    # The QR code on the page encodes exactly that address.
    expected = qrcode.make(voucher_url, image_factory=qrcode.image.svg.SvgPathImage)
    assert qr_path(qr.evaluate("svg => svg.outerHTML")) == qr_path(
        expected.to_string(encoding="unicode")
    )

    # The partner opens it on a phone: valid; "Mark redeemed"; confirmed.
    partner = open_page("fr")
    assert partner.viewport_size == PHONE
    sign_in(partner, partner_owner, PASSWORD)
    partner.goto(voucher_url)
    assert partner.locator("#voucher-valid").is_visible()
    assert partner.locator("#voucher-member").inner_text().strip() == "Léa"
    # Nothing wider than the phone's screen.
    assert partner.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    button = partner.locator("#validate-voucher button[type=submit]")
    assert button.is_visible()
    button.click()
    partner.wait_for_url(voucher_url)
    assert partner.locator(".flash-success").is_visible()
    assert partner.locator("#voucher-used").is_visible()
    assert partner.locator("#validate-voucher").count() == 0

    # Opened again (a second scan): already used, no button.
    partner.goto(voucher_url)
    assert partner.locator("#voucher-used").is_visible()
    assert partner.locator("#voucher-valid").count() == 0
    assert partner.locator("#validate-voucher").count() == 0

    # The member's pass says it was used, and shows no QR code any more.
    member.reload()
    assert member.locator("#benefit-used").is_visible()
    assert member.locator("#voucher-qr").count() == 0

"""Journey of the treasurer: signs in with a two-factor code, looks at this month on the
dashboard (a screenshot of it is always kept), opens a payment from the table, refunds part of
it with a reason and the confirmation step, and downloads the FEC file from the dashboard.

The payment is a real one: a verified alumnus pays the membership through the JSON API with a
localstripe card, so the refund goes to localstripe too.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from marketplace.payments.gateway import API_VERSION
from marketplace.seed import DEMO_PASSWORD, DEMO_STAFF
from tests.e2e.conftest import OUTPUT, output_dir, totp_code
from tests.e2e.test_offer_journey import PASSWORD, api, sign_in

pytestmark = pytest.mark.e2e

TREASURER = next(staff for staff in DEMO_STAFF if staff[0] == "treasurer@example.org")
STRIPE_KEY = "sk_test_localstripe"
VISA = "4242424242424242"
FEC_HEADER = "JournalCode|JournalLib|EcritureNum"
# The dashboard's screenshot is kept on success too, in a folder of its own (a failure empties
# the test's folder before saving its own screenshots there).
SCREENSHOT = OUTPUT / "treasurer_dashboard" / "dashboard.png"


def stripe(localstripe: str, path: str, **data: str) -> dict:
    """A POST to localstripe, as the page's Stripe.js would do it."""
    request = urllib.request.Request(  # noqa: S310 - the session's localstripe
        f"{localstripe}{path}",
        method="POST",
        data=urllib.parse.urlencode(data).encode(),
        # Stripe.js sends a version of its own; the strict Stripe asks for the pinned one.
        headers={"Authorization": f"Bearer {STRIPE_KEY}", "Stripe-Version": API_VERSION},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


@pytest.fixture
def paid_membership(demo_data, flask_cli, live_server, localstripe) -> int:
    """A membership of 40 EUR paid by a new verified alumnus (the payment's id)."""
    email = f"payeur-{uuid.uuid4().hex[:8]}@example.org"
    flask_cli(
        "users", "create", email, "--password", PASSWORD, "--alumni", "--verified",
        "--name", "Lucie Payeur",
    )  # fmt: skip
    token = flask_cli("users", "token", email).strip()
    status, started = api(
        live_server, "POST", "/api/v1/me/membership/checkout", token, {"tier": "standard"}
    )
    assert status == 201, started
    setup_id = started["setup_intent_client_secret"].split("_secret_")[0]
    method = stripe(
        localstripe,
        "/v1/payment_methods",
        type="card",
        **{
            "card[number]": VISA,
            "card[exp_month]": "12",
            "card[exp_year]": "2034",
            "card[cvc]": "123",
        },
    )["id"]
    confirmed = stripe(localstripe, f"/v1/setup_intents/{setup_id}/confirm", payment_method=method)
    assert confirmed["status"] == "succeeded"
    status, paid = api(
        live_server,
        "POST",
        f"/api/v1/payments/{started['payment_id']}/confirm",
        token,
        {"payment_method": method},
    )
    assert status == 200, paid
    assert paid["status"] == "succeeded"
    return started["payment_id"]


def sign_in_treasurer(page) -> None:
    email, _name, _role, secret = TREASURER
    sign_in(page, email, DEMO_PASSWORD)
    page.wait_for_url("**/accounts/two-factor**")
    page.locator("#code").fill(totp_code(secret))
    page.locator("form[action*='/accounts/two-factor'] button[type=submit]").click()
    page.wait_for_load_state()
    assert "/accounts/two-factor" not in page.url, "the two-factor code was refused"


def value(page, element_id: str) -> int:
    return int(page.locator(f"#{element_id}").get_attribute("data-value"))


def test_treasurer_looks_at_the_month_refunds_part_of_a_payment_and_downloads_the_fec(
    request, paid_membership, open_page
):
    folder = output_dir(request.node)
    folder.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page = open_page("fr")
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    sign_in_treasurer(page)

    # The treasury link of the navigation leads to the dashboard; this month is chosen.
    page.locator("#nav-treasury").click()
    page.wait_for_url("**/treasury/")
    page.locator("#period").select_option("this_month")
    page.locator("#period-form button[type=submit]").click()
    page.wait_for_url("**/treasury/?period=this_month**")
    today = datetime.now(UTC).astimezone(ZoneInfo("Europe/Paris")).date()
    assert page.locator("#period-heading").get_attribute("data-start") == (
        today.replace(day=1).isoformat()
    )
    assert value(page, "kpi-eur-gross") >= 4000
    assert value(page, "kpi-eur-count") >= 1
    refunds_before = value(page, "kpi-eur-refunds")
    # The chart is drawn from its data (the figure shows only once Chart.js ran).
    page.locator("#chart-eur").wait_for(state="visible")
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 0

    # From the memberships of the month to the payments table, then to the payment.
    page.locator("#kind-eur-membership th a").click()
    page.wait_for_url(re.compile(r"/treasury/payments\?.*kind=membership"))
    page.locator(f"#payment-{paid_membership} th a").click()
    page.wait_for_url(f"**/treasury/payments/{paid_membership}")
    assert page.locator("#payment-status").get_attribute("data-status") == "succeeded"

    # A partial refund: amount and reason, then the confirmation step.
    page.locator("#refund-form input[name=amount]").fill("15.00")
    page.locator("#refund-form input[name=reason]").fill("Geste commercial")
    page.locator("#refund-form button[type=submit]").click()
    page.locator("#refund-confirmation").wait_for(state="visible")
    assert page.locator("#refund-confirm-form input[name=amount]").input_value() == "15.00"
    page.locator("#refund-confirm").click()
    page.wait_for_url(f"**/treasury/payments/{paid_membership}")
    assert page.locator(".flash-success").is_visible()
    assert page.locator("#payment-status").get_attribute("data-status") == "partially_refunded"
    assert page.locator("#refund-list tbody tr").count() == 1

    # The dashboard counts the refund this month.
    page.goto("/treasury/?period=this_month")
    assert value(page, "kpi-eur-refunds") == refunds_before + 1500

    # The FEC file of the year, from the dashboard's link.
    with page.expect_download() as downloading:
        page.locator("#fec-download").click()
    download = downloading.value
    path = Path(download.path())
    first_line = path.read_bytes().split(b"\n", 1)[0].decode("latin-1")
    assert first_line.startswith(FEC_HEADER), first_line
    download.save_as(str(folder / download.suggested_filename))
    assert problems == [], problems

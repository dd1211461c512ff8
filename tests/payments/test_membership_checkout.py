"""The membership card flow on the web pages (what checkout.js does), against localstripe."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.membership.models import Membership
from marketplace.payments.models import Payment, PaymentProfile, PaymentStatus
from tests.payments.conftest import DECLINED, THREE_D_SECURE, stripe_api
from tests.payments.test_membership_api import confirm_setup

EN = {"Accept-Language": "en"}


@pytest.fixture
def alumnus(create_user: Callable[..., User], seed_reference: None) -> User:
    return create_user("web-member@example.org", alumni=True, status="verified", locale="en")


def start(client) -> tuple[int, str, str]:
    """Press "Pay" on the standard tier; the payment id, the page, its CSRF token."""
    response = client.post("/membership/checkout/standard", data={"csrf_token": token_of(client)})
    assert response.status_code == 302
    match = re.search(r"/membership/pay/(\d+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    page = client.get(response.headers["Location"], headers=EN)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    return int(match.group(1)), text, re.search(r'data-csrf-token="([^"]+)"', text).group(1)


def token_of(client) -> str:
    text = client.get("/membership/", headers=EN).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)


def setup_secret(text: str) -> str:
    return re.search(r'data-setup-secret="([^"]+)"', text).group(1)


def test_the_page_flow_pays_the_membership(
    app, client, login, stripe_app, localstripe, alumnus, csrf_enabled
):
    login(client, alumnus)
    payment_id, text, csrf = start(client)
    # Stripe.js from STRIPE_JS_URL (an origin the CSP names), the card element, the checkout script.
    stripe_js = re.search(r'<script src="([^"]+)">', text)
    assert stripe_js.group(1) == app.config["STRIPE_JS_URL"]
    assert 'id="card-element"' in text
    assert "js/checkout.js" in text
    assert "<script>" not in text
    page = client.get(f"/membership/pay/{payment_id}", headers=EN)
    csp = page.headers["Content-Security-Policy"]
    assert re.search(rf"script-src [^;]*{re.escape(localstripe)}", csp)
    assert re.search(rf"connect-src [^;]*{re.escape(localstripe)}", csp)

    method = confirm_setup(localstripe, setup_secret(text))
    without_token = client.post(
        f"/membership/pay/{payment_id}/confirm", json={"payment_method": method}
    )
    assert without_token.status_code == 400  # CSRF applies to the JSON calls too
    answer = client.post(
        f"/membership/pay/{payment_id}/confirm",
        json={"payment_method": method},
        headers={"X-CSRFToken": csrf},
    )
    assert answer.status_code == 200
    assert answer.get_json()["status"] == "succeeded"
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.SUCCEEDED
        period = db.session.scalar(select(Membership).where(Membership.payment_id == payment_id))
        assert period is not None
        assert period.user_id == alumnus.id
    done = client.get(f"/membership/pay/{payment_id}", headers=EN).get_data(as_text=True)
    assert 'data-status="succeeded"' in done
    status = client.get("/membership/", headers=EN).get_data(as_text=True)
    assert 'data-status="active"' in status

    # The card is saved: auto-renewal can be switched on, then off.
    client.post("/membership/auto-renew", data={"auto_renew": "y", "csrf_token": token_of(client)})
    with app.app_context():
        profile = db.session.scalar(
            select(PaymentProfile).where(PaymentProfile.user_id == alumnus.id)
        )
        assert profile.auto_renew is True
        assert profile.payment_method_id == method
    client.post("/membership/auto-renew", data={"csrf_token": token_of(client)})
    with app.app_context():
        profile = db.session.scalar(
            select(PaymentProfile).where(PaymentProfile.user_id == alumnus.id)
        )
        assert profile.auto_renew is False


def test_three_d_secure_on_the_page(app, client, login, stripe_app, localstripe, alumnus):
    login(client, alumnus)
    payment_id, text, _csrf = start(client)
    method = confirm_setup(localstripe, setup_secret(text), THREE_D_SECURE)
    answer = client.post(f"/membership/pay/{payment_id}/confirm", json={"payment_method": method})
    body = answer.get_json()
    assert body["status"] == "requires_action"
    secret = body["payment_intent_client_secret"]
    # Before the bank's check the sync says so, and nothing is given.
    assert client.post(f"/membership/pay/{payment_id}/sync").get_json()["status"] == (
        "requires_action"
    )
    stripe_api(
        localstripe,
        "POST",
        f"/v1/payment_intents/{secret.split('_secret_')[0]}/_authenticate",
        client_secret=secret,
        success="true",
    )
    assert client.post(f"/membership/pay/{payment_id}/sync").get_json()["status"] == "succeeded"
    with app.app_context():
        assert db.session.scalar(select(Membership).where(Membership.payment_id == payment_id))


def test_a_declined_card_then_another_card(app, client, login, stripe_app, localstripe, alumnus):
    login(client, alumnus)
    payment_id, text, _csrf = start(client)
    method = confirm_setup(localstripe, setup_secret(text), DECLINED)
    body = client.post(
        f"/membership/pay/{payment_id}/confirm", json={"payment_method": method}
    ).get_json()
    assert body["status"] == "failed"
    assert body["message"]
    page = client.get(f"/membership/pay/{payment_id}", headers=EN).get_data(as_text=True)
    assert 'data-status="failed"' in page
    assert 'id="retry-form"' in page
    with app.app_context():
        assert db.session.scalar(select(Membership).where(Membership.user_id == alumnus.id)) is None
    # "Try another card": a new SetupIntent, a good card, the payment succeeds.
    assert client.post(f"/membership/pay/{payment_id}/retry").status_code == 302
    page = client.get(f"/membership/pay/{payment_id}", headers=EN).get_data(as_text=True)
    method = confirm_setup(localstripe, setup_secret(page))
    body = client.post(
        f"/membership/pay/{payment_id}/confirm", json={"payment_method": method}
    ).get_json()
    assert body["status"] == "succeeded"
    with app.app_context():
        assert db.session.scalar(select(Membership).where(Membership.payment_id == payment_id))


def test_another_members_payment_is_not_found(
    app, client, login, stripe_app, localstripe, alumnus, create_user
):
    login(client, alumnus)
    payment_id, _text, _csrf = start(client)
    other = create_user("nosy@example.org", alumni=True, status="verified")
    other_client = app.test_client()
    login(other_client, other)
    assert other_client.get(f"/membership/pay/{payment_id}").status_code == 404
    refused = other_client.post(
        f"/membership/pay/{payment_id}/confirm", json={"payment_method": "pm_card_visa"}
    )
    assert refused.status_code == 404
    assert other_client.post(f"/membership/pay/{payment_id}/sync").status_code == 404


def test_auto_renewal_needs_a_saved_card(app, client, login, alumnus):
    login(client, alumnus)
    page = client.get("/membership/", headers=EN).get_data(as_text=True)
    assert 'id="auto-renew-unavailable"' in page
    response = client.post("/membership/auto-renew", data={"auto_renew": "y"}, headers=EN)
    assert response.status_code == 302
    with app.app_context():
        assert (
            db.session.scalar(select(PaymentProfile).where(PaymentProfile.user_id == alumnus.id))
            is None
        )


def test_joining_from_a_members_only_offer_comes_back_to_it(
    app, client, login, stripe_app, localstripe, alumnus
):
    login(client, alumnus)
    page = client.get("/membership/?offer=42", headers=EN).get_data(as_text=True)
    assert '<input type="hidden" name="offer" value="42">' in page

    response = client.post(
        "/membership/checkout/standard", data={"csrf_token": token_of(client), "offer": "42"}
    )

    assert response.headers["Location"].endswith("?offer=42")
    payment_id = int(re.search(r"/pay/(\d+)", response.headers["Location"]).group(1))
    pay = client.get(response.headers["Location"], headers=EN).get_data(as_text=True)
    assert '<a href="/offers/42" role="button">Back to the offer</a>' in pay
    assert f"/membership/pay/{payment_id}?offer=42" in pay  # "try another card" keeps it
    # Anything but an offer id is no way out of the site.
    plain = client.get(f"/membership/pay/{payment_id}?offer=https://evil.example", headers=EN)
    assert '<a href="/membership/" role="button">' in plain.get_data(as_text=True)

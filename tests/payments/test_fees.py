"""Stripe fees and the saved card's label.

localstripe reports zero fees, so a real fee comes as a signed event whose charge carries its
balance transaction (what Stripe's API would give): the fee lands on ``Payment.stripe_fee`` and
a later sync with the zero-fee stand-in does not erase it. The card kept for renewals is
labelled with its brand and last four digits, read from Stripe's PaymentMethod.
"""

from __future__ import annotations

from sqlalchemy import select

from marketplace.extensions import db
from marketplace.payments import services
from marketplace.payments.models import PaymentProfile, PaymentStatus
from tests.payments import test_membership_checkout as membership_pages
from tests.payments.conftest import card, event, reload, sign, stripe_api
from tests.payments.test_membership_api import confirm_setup

URL = "/payments/stripe/webhook"
alumnus = membership_pages.alumnus  # fixture


def _deliver(client, body: bytes, secret: str) -> None:
    response = client.post(
        URL,
        data=body,
        headers={"Stripe-Signature": sign(body, secret), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def _charge_with_fee(localstripe: str, intent: dict, fee: int) -> dict:
    charge_id = intent["latest_charge"]
    charge_id = charge_id["id"] if isinstance(charge_id, dict) else charge_id
    charge = stripe_api(localstripe, "GET", f"/v1/charges/{charge_id}")
    charge["balance_transaction"] = {
        "id": "txn_fee_test",
        "object": "balance_transaction",
        "amount": charge["amount"],
        "fee": fee,
        "net": charge["amount"] - fee,
        "currency": charge["currency"],
    }
    return charge


def _paid_intent(localstripe: str, payment_id: int, amount: int) -> dict:
    return stripe_api(
        localstripe,
        "POST",
        "/v1/payment_intents",
        amount=amount,
        currency="eur",
        payment_method=card(localstripe),
        confirm="true",
        **{"metadata[payment_id]": str(payment_id)},
    )


def test_a_charge_event_with_a_fee_sets_it_and_a_resync_keeps_it(
    stripe_app, localstripe, client, new_payment, fulfilled, webhook_secret
):
    payment_id = new_payment(amount=4000)
    with stripe_app.app_context():
        services.confirm_payment(payment_id, payment_method=card(localstripe))
    assert reload(stripe_app, payment_id).stripe_fee == 0  # what localstripe reports
    with stripe_app.app_context():
        intent_id = reload(stripe_app, payment_id).stripe_payment_intent_id
    intent = stripe_api(localstripe, "GET", f"/v1/payment_intents/{intent_id}")
    _deliver(
        client, event("charge.updated", _charge_with_fee(localstripe, intent, 85)), webhook_secret
    )
    assert reload(stripe_app, payment_id).stripe_fee == 85
    # The zero-fee stand-in, asked again, does not erase the real fee; nor does a zero event.
    with stripe_app.app_context():
        services.sync_payment(payment_id)
        services.sync_charge(payment_id)
    _deliver(
        client, event("charge.succeeded", _charge_with_fee(localstripe, intent, 0)), webhook_secret
    )
    payment = reload(stripe_app, payment_id)
    assert payment.stripe_fee == 85
    assert fulfilled == [payment_id]


def test_a_succeeded_intent_event_carrying_its_fee_pays_and_records_it(
    stripe_app, localstripe, client, new_payment, fulfilled, webhook_secret
):
    payment_id = new_payment(amount=12000)
    intent = _paid_intent(localstripe, payment_id, 12000)
    # The ledger has not heard back (a timeout): the event pays it and brings the fee along.
    intent["latest_charge"] = _charge_with_fee(localstripe, intent, 199)
    _deliver(client, event("payment_intent.succeeded", intent), webhook_secret)
    payment = reload(stripe_app, payment_id)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.stripe_fee == 199
    assert fulfilled == [payment_id]


def test_a_fee_for_an_unpaid_or_unknown_payment_changes_nothing(
    stripe_app, localstripe, client, new_payment, fulfilled, webhook_secret
):
    payment_id = new_payment(amount=4000)
    intent = _paid_intent(localstripe, payment_id, 4000)
    charge = _charge_with_fee(localstripe, intent, 50)
    charge["payment_intent"] = "pi_unknown"
    charge["id"] = "ch_unknown"
    _deliver(client, event("charge.updated", charge), webhook_secret)
    payment = reload(stripe_app, payment_id)
    assert payment.stripe_fee is None
    assert payment.status == PaymentStatus.PENDING
    assert fulfilled == []


def test_the_saved_card_shows_its_brand_and_last_digits(
    app, client, login, stripe_app, localstripe, alumnus
):
    login(client, alumnus)
    payment_id, text, _csrf = membership_pages.start(client)
    method = confirm_setup(localstripe, membership_pages.setup_secret(text))
    answer = client.post(f"/membership/pay/{payment_id}/confirm", json={"payment_method": method})
    assert answer.get_json()["status"] == "succeeded"
    with app.app_context():
        profile = db.session.scalar(
            select(PaymentProfile).where(PaymentProfile.user_id == alumnus.id)
        )
        assert (profile.payment_method_id, profile.card_brand, profile.card_last4) == (
            method,
            "visa",
            "4242",
        )
    page = client.get("/membership/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'data-brand="visa" data-last4="4242"' in page
    assert "Visa •••• 4242" in page

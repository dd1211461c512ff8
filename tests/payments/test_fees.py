"""What Stripe settled, and the saved card's label.

The strict Stripe settles every charge in EUR with Stripe's European card fee (1.5 % + 0.25 €),
converting a charge in another currency at a fixed rate: the ledger keeps the amount, fee and
net of the charge's balance transaction beside the payment's own amount and currency. An
event is only a hint: a fee written in an event's payload is never trusted. The card kept for
renewals is labelled with its brand and last four digits, read from Stripe's PaymentMethod.
"""

from __future__ import annotations

from sqlalchemy import select

from marketplace.extensions import db
from marketplace.payments import checkout as payment_checkout
from marketplace.payments import sync as payment_sync
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


def test_a_euro_charge_keeps_its_balance_transaction(
    stripe_app, localstripe, new_payment, fulfilled
):
    payment_id = new_payment(amount=4000)
    with stripe_app.app_context():
        payment_checkout.confirm_payment(payment_id, payment_method=card(localstripe))
    payment = reload(stripe_app, payment_id)
    assert (payment.amount, payment.currency) == (4000, "eur")
    assert (payment.settled_amount, payment.stripe_fee, payment.settled_net) == (4000, 85, 3915)
    assert payment.settled_currency == "eur"
    assert fulfilled == [payment_id]


def test_a_dollar_charge_is_settled_in_euros_beside_its_own_amount(
    stripe_app, localstripe, new_payment, fulfilled
):
    payment_id = new_payment(amount=5000, currency="usd")
    with stripe_app.app_context():
        payment_checkout.confirm_payment(payment_id, payment_method=card(localstripe))
    payment = reload(stripe_app, payment_id)
    assert (payment.amount, payment.currency) == (5000, "usd")
    # 50.00 USD at 0.92 = 46.00 EUR; fee 1.5 % + 0.25 € = 0.94 € (both in euros, never in USD).
    assert (payment.settled_amount, payment.stripe_fee, payment.settled_net) == (4600, 94, 4506)
    assert payment.settled_currency == "eur"


def test_a_fee_written_in_an_event_is_not_trusted(
    stripe_app, localstripe, client, new_payment, fulfilled, webhook_secret
):
    payment_id = new_payment(amount=4000)
    with stripe_app.app_context():
        payment_checkout.confirm_payment(payment_id, payment_method=card(localstripe))
        intent_id = reload(stripe_app, payment_id).stripe_payment_intent_id
    intent = stripe_api(localstripe, "GET", f"/v1/payment_intents/{intent_id}")
    charge = stripe_api(localstripe, "GET", f"/v1/charges/{intent['latest_charge']}")
    charge["balance_transaction"] = {
        "id": "txn_forged",
        "object": "balance_transaction",
        "amount": 4000,
        "fee": 3999,
        "net": 1,
        "currency": "eur",
    }
    _deliver(client, event("charge.updated", charge), webhook_secret)
    with stripe_app.app_context():
        payment_sync.sync_charge(payment_id)
    payment = reload(stripe_app, payment_id)
    assert (payment.stripe_fee, payment.settled_net) == (85, 3915)
    assert fulfilled == [payment_id]


def test_a_charge_event_for_an_unknown_payment_changes_nothing(
    stripe_app, localstripe, client, new_payment, fulfilled, webhook_secret
):
    payment_id = new_payment(amount=4000)
    body = event(
        "charge.updated",
        {"id": "ch_unknown", "object": "charge", "payment_intent": "pi_unknown", "amount": 4000},
    )
    _deliver(client, body, webhook_secret)
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

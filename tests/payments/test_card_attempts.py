"""The card flow against the strict Stripe (issue 12): what real Stripe would refuse or lose.

- finding 1: on-session PaymentIntents are card-only (no return_url needed) at the pinned
  version, and every request says which version it speaks;
- finding 4: after a declined card, a 3-D Secure card can still pay the same payment;
- finding 5: a confirm whose answer was lost, with no webhook, is found by reconciliation;
- finding 7: a signed event about an intent with another amount does not block the payer;
- finding 11: a declined attempt's late ``payment_failed`` raises no exception; idempotency
  keys carry the site; a ``payment_id`` out of the integer range answers 200.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.payments import checkout, sync
from marketplace.payments.gateway import API_VERSION
from marketplace.payments.models import AttemptStatus, Payment, PaymentAttempt, PaymentStatus
from marketplace.payments.services import PaymentServiceUnavailable, site_id
from tests.payments.conftest import (
    DECLINED,
    THREE_D_SECURE,
    card,
    event,
    reload,
    sign,
    stripe_api,
)

WEBHOOK = "/payments/stripe/webhook"


@pytest.fixture
def ready(stripe_app, new_payment, payer):
    """``ready(amount)``: a pending payment whose payer has a customer and a SetupIntent."""

    def make(amount: int = 4000, currency: str = "eur") -> int:
        payment_id = new_payment(amount=amount, currency=currency)
        with stripe_app.app_context():
            payment = db.session.get(Payment, payment_id)
            checkout.prepare_card_setup(payment, user=db.session.get(User, payer.id))
            db.session.commit()
        return payment_id

    return make


def _post(client, body: bytes, secret: str):
    return client.post(
        WEBHOOK,
        data=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": sign(body, secret)},
    )


def _authenticate(localstripe: str, intent_id: str, client_secret: str) -> None:
    """What the page's confirmCardPayment does: the bank's 3-D Secure step, passed."""
    response = requests.post(
        f"{localstripe}/v1/payment_intents/{intent_id}/_authenticate",
        params={"success": "true"},
        json={"key": "pk_test_localstripe", "client_secret": client_secret},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_an_on_session_card_payment_speaks_the_pinned_version_card_only(
    stripe_app, localstripe, strict_stripe, ready, fulfilled
):
    payment_id = ready()
    with stripe_app.app_context():
        payment = checkout.confirm_payment(payment_id, payment_method=card(localstripe))
    assert payment.status == PaymentStatus.SUCCEEDED
    [created] = strict_stripe.calls("POST", "/v1/payment_intents")
    assert created["payment_method_types"] == ["card"]
    assert created["confirm"].lower() == "true"
    assert "return_url" not in created
    [setup] = strict_stripe.calls("POST", "/v1/setup_intents")
    assert setup["payment_method_types"] == ["card"]
    assert fulfilled == [payment_id]
    assert API_VERSION.endswith(".endive")


def test_a_3d_secure_card_after_a_declined_one_can_pay(stripe_app, localstripe, ready, fulfilled):
    payment_id = ready()
    with stripe_app.app_context(), pytest.raises(checkout.CardRefused):
        checkout.confirm_payment(payment_id, payment_method=card(localstripe, DECLINED))
    assert reload(stripe_app, payment_id).status == PaymentStatus.FAILED
    with stripe_app.app_context():
        payment = checkout.confirm_payment(
            payment_id, payment_method=card(localstripe, THREE_D_SECURE)
        )
        assert payment.status == PaymentStatus.REQUIRES_ACTION
        secret = sync.payment_intent_client_secret(payment)
        intent_id = payment.stripe_payment_intent_id
    _authenticate(localstripe, intent_id, secret)
    with stripe_app.app_context():
        attempt = checkout.finish_card_payment(db.session.get(Payment, payment_id))
        assert attempt.status == "succeeded"
        statuses = [a.status for a in db.session.get(Payment, payment_id).attempts]
    assert statuses == [AttemptStatus.FAILED, AttemptStatus.SUCCEEDED]
    assert fulfilled == [payment_id]


def test_a_declined_attempts_late_failure_raises_no_exception(
    stripe_app, client, localstripe, ready, webhook_secret, fulfilled
):
    payment_id = ready()
    with stripe_app.app_context(), pytest.raises(checkout.CardRefused):
        checkout.confirm_payment(payment_id, payment_method=card(localstripe, DECLINED))
    with stripe_app.app_context():
        declined = db.session.get(Payment, payment_id).attempts[0]
        declined_metadata = {"payment_id": str(payment_id), "attempt": declined.idempotency_key}
        payment = checkout.confirm_payment(payment_id, payment_method=card(localstripe))
        assert payment.status == PaymentStatus.SUCCEEDED
    # localstripe made no intent for the declined card; Stripe would have, and its late
    # payment_failed names it: matched to the declined attempt, not to the payment.
    failed = stripe_api(
        localstripe,
        "POST",
        "/v1/payment_intents",
        amount=4000,
        currency="eur",
        payment_method_types=["card"],
        metadata=declined_metadata,
    )
    with stripe_app.app_context():
        attempt = db.session.get(PaymentAttempt, declined.id)
        attempt.stripe_payment_intent_id = failed["id"]
        db.session.commit()
    body = event("payment_intent.payment_failed", failed)
    assert _post(client, body, webhook_secret).status_code == 200
    payment = reload(stripe_app, payment_id)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.flag is None
    assert fulfilled == [payment_id]


def test_an_event_about_an_intent_of_another_amount_does_not_block_the_payer(
    stripe_app, client, localstripe, ready, webhook_secret, fulfilled
):
    payment_id = ready(amount=4000)
    stranger = stripe_api(
        localstripe,
        "POST",
        "/v1/payment_intents",
        amount=100,
        currency="eur",
        payment_method=card(localstripe),
        payment_method_types=["card"],
        confirm="true",
        metadata={"payment_id": str(payment_id)},
    )
    body = event("payment_intent.succeeded", stranger)
    assert _post(client, body, webhook_secret).status_code == 200
    assert reload(stripe_app, payment_id).stripe_payment_intent_id is None  # not attached
    with stripe_app.app_context():
        payment = checkout.confirm_payment(payment_id, payment_method=card(localstripe))
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.stripe_payment_intent_id != stranger["id"]
    assert fulfilled == [payment_id]


def test_our_own_attempt_with_another_amount_is_flagged_and_detached(
    stripe_app, client, localstripe, ready, webhook_secret, fulfilled
):
    payment_id = ready(amount=4000)
    with stripe_app.app_context():
        attempt = PaymentAttempt(
            payment_id=payment_id,
            idempotency_key=f"{site_id()}:pi:odd",
            payment_method="pm_x",
            status=AttemptStatus.UNANSWERED,
        )
        db.session.add(attempt)
        db.session.commit()
        customer = db.session.get(Payment, payment_id).stripe_customer_id
        key = attempt.idempotency_key
    odd = stripe_api(
        localstripe,
        "POST",
        "/v1/payment_intents",
        amount=5000,
        currency="eur",
        customer=customer,
        payment_method=card(localstripe),
        payment_method_types=["card"],
        confirm="true",
        metadata={"payment_id": str(payment_id), "attempt": key},
    )
    body = event("payment_intent.succeeded", odd)
    assert _post(client, body, webhook_secret).status_code == 200
    payment = reload(stripe_app, payment_id)
    assert payment.flag == "amount_mismatch"
    assert payment.stripe_payment_intent_id is None
    assert fulfilled == []
    with stripe_app.app_context():
        paid = checkout.confirm_payment(payment_id, payment_method=card(localstripe))
    assert paid.status == PaymentStatus.SUCCEEDED  # the genuine attempt goes through
    assert fulfilled == [payment_id]


def test_a_lost_confirm_answer_is_found_by_reconciliation(
    stripe_app, localstripe, strict_stripe, ready, fulfilled
):
    payment_id = ready()
    strict_stripe.lose_answer("POST", "/v1/payment_intents")
    with stripe_app.app_context(), pytest.raises(PaymentServiceUnavailable):
        checkout.confirm_payment(payment_id, payment_method=card(localstripe))
    payment = reload(stripe_app, payment_id)
    assert (payment.status, payment.stripe_payment_intent_id) == (PaymentStatus.PENDING, None)
    assert fulfilled == []
    with stripe_app.app_context():
        # Minutes later, no webhook came: the attempt is old enough to be looked for.
        db.session.get(Payment, payment_id).attempts[0].updated_at -= timedelta(minutes=10)
        db.session.commit()
    result = stripe_app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert result.exit_code == 0, result.output
    assert f"payment {payment_id}: pending -> succeeded" in result.output
    assert "found by its metadata" in result.output
    assert reload(stripe_app, payment_id).status == PaymentStatus.SUCCEEDED
    assert fulfilled == [payment_id]
    assert len(strict_stripe.calls("POST", "/v1/payment_intents")) == 1  # one charge only


def test_a_confirm_after_a_lost_answer_sends_the_same_request_again(
    stripe_app, localstripe, strict_stripe, ready, fulfilled
):
    payment_id = ready()
    method = card(localstripe)
    strict_stripe.lose_answer("POST", "/v1/payment_intents")
    with stripe_app.app_context(), pytest.raises(PaymentServiceUnavailable):
        checkout.confirm_payment(payment_id, payment_method=method)
    with stripe_app.app_context():
        payment = checkout.confirm_payment(payment_id, payment_method=method)
    assert payment.status == PaymentStatus.SUCCEEDED
    keys = [key for path, key in strict_stripe.idempotency_keys if path == "/v1/payment_intents"]
    assert len(keys) == 2
    assert len(set(keys)) == 1  # the same key: Stripe replayed its first answer
    with stripe_app.app_context():
        assert (
            db.session.scalar(
                select(func.count(PaymentAttempt.id)).where(PaymentAttempt.payment_id == payment_id)
            )
            == 1
        )
    assert fulfilled == [payment_id]


def test_idempotency_keys_name_the_site(stripe_app, localstripe, strict_stripe, ready):
    payment_id = ready()
    with stripe_app.app_context():
        checkout.confirm_payment(payment_id, payment_method=card(localstripe))
        prefix = site_id() + ":"
    assert strict_stripe.idempotency_keys
    assert all(key.startswith(prefix) for _path, key in strict_stripe.idempotency_keys)
    previous = stripe_app.config["STRIPE_SITE_ID"]
    stripe_app.config["STRIPE_SITE_ID"] = "other-site.example.org"
    try:
        with stripe_app.app_context():
            assert site_id() == "other-site.example.org"
    finally:
        stripe_app.config["STRIPE_SITE_ID"] = previous


@pytest.mark.parametrize("raw", ["99999999999999999999999", "-1", "12abc", "0"])
def test_a_payment_id_out_of_range_in_a_signed_event_answers_200(
    stripe_app, client, webhook_secret, raw
):
    body = event(
        "payment_intent.succeeded",
        {"id": "pi_out_of_range", "object": "payment_intent", "metadata": {"payment_id": raw}},
    )
    assert _post(client, body, webhook_secret).status_code == 200

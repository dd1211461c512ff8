"""The Stripe webhook: signatures on the raw body, events stored once, any delivery order."""

from __future__ import annotations

import itertools
import json
import time

import pytest
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.payments.models import Payment, PaymentStatus, Refund, StripeEvent
from tests.payments.conftest import card, event, reload, sign, stripe_api

URL = "/payments/stripe/webhook"


def _post(client, body: bytes, header: str | None):
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    return client.post(URL, data=body, headers=headers)


def _stored(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(StripeEvent.id)))


def _paid_intent(localstripe: str, payment_id: int, amount: int = 4000) -> dict:
    return stripe_api(
        localstripe,
        "POST",
        "/v1/payment_intents",
        payment_method_types=["card"],
        amount=amount,
        currency="eur",
        payment_method=card(localstripe),
        confirm="true",
        **{"metadata[payment_id]": str(payment_id)},
    )


def _attach(app, payment_id: int, intent_id: str) -> None:
    with app.app_context():
        db.session.get(Payment, payment_id).stripe_payment_intent_id = intent_id
        db.session.commit()


@pytest.fixture
def paid(stripe_app, localstripe, new_payment):
    """A payment whose PaymentIntent succeeded at Stripe; the ledger does not know yet."""
    payment_id = new_payment()
    intent = _paid_intent(localstripe, payment_id)
    _attach(stripe_app, payment_id, intent["id"])
    return payment_id, intent


def _succeeded_body(intent: dict, event_id: str | None = None) -> bytes:
    return event("payment_intent.succeeded", intent, event_id)


@pytest.mark.parametrize(
    "header",
    [None, "", "t=123,v1=deadbeef", "garbage", "t={now},v1=" + "0" * 64],
)
def test_bad_or_missing_signature_is_400_and_changes_nothing(
    stripe_app, client, paid, fulfilled, header
):
    payment_id, intent = paid
    body = _succeeded_body(intent)
    response = _post(client, body, header.format(now=int(time.time())) if header else header)
    assert response.status_code == 400
    assert _stored(stripe_app) == 0
    assert reload(stripe_app, payment_id).status == PaymentStatus.PENDING
    assert fulfilled == []


def test_a_signature_with_another_secret_is_400(stripe_app, client, paid, fulfilled):
    payment_id, intent = paid
    body = _succeeded_body(intent)
    assert _post(client, body, sign(body, "whsec_someone_else")).status_code == 400
    assert reload(stripe_app, payment_id).status == PaymentStatus.PENDING


def test_a_timestamp_older_than_the_tolerance_is_400(
    stripe_app, client, paid, webhook_secret, fulfilled
):
    payment_id, intent = paid
    body = _succeeded_body(intent)
    old = int(time.time()) - 301
    assert _post(client, body, sign(body, webhook_secret, old)).status_code == 400
    assert _stored(stripe_app) == 0
    assert fulfilled == []


def test_a_timestamp_further_in_the_future_than_the_tolerance_is_400(
    stripe_app, client, paid, webhook_secret, fulfilled
):
    """Stripe's SDK checks only the past; a signature dated ahead is refused too."""
    payment_id, intent = paid
    body = _succeeded_body(intent)
    ahead = int(time.time()) + 301
    assert _post(client, body, sign(body, webhook_secret, ahead)).status_code == 400
    assert _stored(stripe_app) == 0
    assert fulfilled == []
    # A few seconds of clock skew either way still passes.
    skewed = int(time.time()) + 5
    assert _post(client, body, sign(body, webhook_secret, skewed)).status_code == 200


def test_the_raw_body_is_verified_not_a_reserialisation(
    stripe_app, client, paid, webhook_secret, fulfilled
):
    payment_id, intent = paid
    body = _succeeded_body(intent)
    header = sign(body, webhook_secret)
    same_json = json.dumps(json.loads(body)).encode()  # equal data, other bytes
    assert same_json != body
    assert _post(client, same_json, header).status_code == 400
    assert fulfilled == []
    assert _post(client, body, header).status_code == 200
    assert fulfilled == [payment_id]


def test_the_same_event_twice_has_one_effect(
    stripe_app, client, paid, webhook_secret, fulfilled, outbox
):
    payment_id, intent = paid
    body = _succeeded_body(intent, "evt_twice")
    for _ in range(2):
        assert _post(client, body, sign(body, webhook_secret)).status_code == 200
    assert _stored(stripe_app) == 1
    assert reload(stripe_app, payment_id).status == PaymentStatus.SUCCEEDED
    assert fulfilled == [payment_id]
    assert len([m for m in outbox() if m.template == "payments/receipt"]) == 1


def test_unknown_event_types_and_unknown_intents_are_2xx_and_ignored(
    stripe_app, client, webhook_secret, fulfilled
):
    for body in (
        event("customer.created", {"id": "cus_x", "object": "customer"}),
        event("payout.paid", {"id": "po_x", "object": "payout", "amount": 100}),
        event(
            "payment_intent.succeeded",
            {"id": "pi_unknown", "object": "payment_intent", "metadata": {}},
        ),
    ):
        response = _post(client, body, sign(body, webhook_secret))
        assert response.status_code == 200
    assert _stored(stripe_app) == 3
    assert fulfilled == []


def _charge_event(kind: str, intent: dict, dispute: dict | None = None) -> bytes:
    """An event about the intent's charge (or its dispute), as Stripe sends it."""
    charge_id = intent["latest_charge"]
    charge_id = charge_id["id"] if isinstance(charge_id, dict) else charge_id
    if kind.startswith("charge.dispute"):
        return event(kind, dispute)
    return event(kind, {"id": charge_id, "object": "charge", "payment_intent": intent["id"]})


def test_a_dashboard_refund_is_picked_up_once_and_a_full_one_reverses(
    stripe_app, client, localstripe, paid, webhook_secret, fulfilled
):
    payment_id, intent = paid
    body = _succeeded_body(intent)
    assert _post(client, body, sign(body, webhook_secret)).status_code == 200
    stripe_api(localstripe, "POST", "/v1/refunds", payment_intent=intent["id"], amount=1000)
    for _ in range(2):  # two distinct deliveries of the news
        refunded = _charge_event("charge.refunded", intent)
        assert _post(client, refunded, sign(refunded, webhook_secret)).status_code == 200
    payment = reload(stripe_app, payment_id)
    assert payment.status == PaymentStatus.PARTIALLY_REFUNDED
    assert payment.refunded_amount == 1000
    stripe_api(localstripe, "POST", "/v1/refunds", payment_intent=intent["id"], amount=3000)
    refunded = _charge_event("charge.refunded", intent)
    assert _post(client, refunded, sign(refunded, webhook_secret)).status_code == 200
    payment = reload(stripe_app, payment_id)
    assert payment.status == PaymentStatus.REFUNDED
    assert payment.refunded_amount == 4000
    with stripe_app.app_context():
        refunds = db.session.scalars(select(Refund).where(Refund.payment_id == payment_id)).all()
        assert sorted(r.amount for r in refunds) == [1000, 3000]
        assert all(r.stripe_refund_id.startswith("re_") for r in refunds)
    assert fulfilled == [payment_id, -payment_id]


def test_a_dispute_flags_and_a_won_dispute_never_moves_back(
    stripe_app, client, paid, webhook_secret, fulfilled, strict_stripe
):
    payment_id, intent = paid
    dispute = strict_stripe.open_dispute(intent["latest_charge"])
    opened = _charge_event("charge.dispute.created", intent, dispute)
    assert _post(client, opened, sign(opened, webhook_secret)).status_code == 200
    payment = reload(stripe_app, payment_id)
    assert payment.status == PaymentStatus.DISPUTED
    assert payment.flag == "dispute"
    assert payment.disputed_at is not None
    closed_dispute = strict_stripe.close_dispute(dispute["id"], won=True)
    closed = _charge_event("charge.dispute.closed", intent, closed_dispute)
    assert _post(client, closed, sign(closed, webhook_secret)).status_code == 200
    payment = reload(stripe_app, payment_id)
    assert payment.status == PaymentStatus.DISPUTED  # never backwards
    assert payment.flag is None  # won: nothing left for the treasurer
    with stripe_app.app_context():
        (row,) = db.session.get(Payment, payment_id).disputes
        assert (row.status, row.withdrawn_amount, row.reinstated_amount) == ("won", 4000, 4000)
        assert row.withdrawn_fee == 1500
    assert fulfilled == [payment_id]


def test_every_delivery_order_ends_in_the_right_state(
    stripe_app, client, localstripe, new_payment, webhook_secret, fulfilled, strict_stripe
):
    kinds = (
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "charge.refunded",
        "charge.dispute.created",
    )
    for order in itertools.permutations(kinds):
        payment_id = new_payment()
        intent = _paid_intent(localstripe, payment_id)
        stripe_api(localstripe, "POST", "/v1/refunds", payment_intent=intent["id"], amount=500)
        dispute = strict_stripe.open_dispute(intent["latest_charge"])
        _attach(stripe_app, payment_id, intent["id"])
        for kind in order:
            if kind.startswith("charge."):
                body = _charge_event(kind, intent, dispute)
            else:
                body = event(kind, intent)
            assert _post(client, body, sign(body, webhook_secret)).status_code == 200, order
        payment = reload(stripe_app, payment_id)
        assert payment.status == PaymentStatus.DISPUTED, order
        assert payment.refunded_amount == 500, order
        assert payment.flag == "dispute", order
        assert payment.fulfilled_at is not None, order
        assert fulfilled.count(payment_id) == 1, order


def test_a_late_payment_failed_never_downgrades(stripe_app, client, paid, webhook_secret):
    payment_id, intent = paid
    success = _succeeded_body(intent)
    assert _post(client, success, sign(success, webhook_secret)).status_code == 200
    failed_view = {**intent, "status": "requires_payment_method"}
    failed = event("payment_intent.payment_failed", failed_view)
    assert _post(client, failed, sign(failed, webhook_secret)).status_code == 200
    assert reload(stripe_app, payment_id).status == PaymentStatus.SUCCEEDED

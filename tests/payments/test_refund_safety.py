"""Refunds that hold (issue 12): a lost answer never refunds twice, refunds made in Stripe's
dashboard arrive by webhook and by one daily sweep (not one call per charge), amounts are
whole minor units, and the payer is e-mailed on every refund."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.payments import checkout
from marketplace.payments.models import Payment, PaymentStatus, Refund, StripeSweep
from marketplace.tasks import run_due
from tests.conftest import totp_now
from tests.payments.conftest import card, event, reload, sign, stripe_api

WEBHOOK = "/payments/stripe/webhook"


@pytest.fixture
def paid(stripe_app, localstripe, new_payment, fulfilled):
    """``paid(amount)``: a payment paid by card through the app (intent, charge, settlement)."""

    def make(amount: int = 10000) -> int:
        payment_id = new_payment(amount=amount)
        with stripe_app.app_context():
            payment = checkout.confirm_payment(payment_id, payment_method=card(localstripe))
            assert payment.status == PaymentStatus.SUCCEEDED
        return payment_id

    return make


@pytest.fixture
def treasurer_client(client, login, create_user):
    return login(client, create_user("caisse@example.org", roles=("treasurer",), locale="fr"))


def _stripe_refunds(localstripe: str, app, payment_id: int) -> list[dict]:
    with app.app_context():
        intent = db.session.get(Payment, payment_id).stripe_payment_intent_id
    return stripe_api(localstripe, "GET", "/v1/refunds", payment_intent=intent)["data"]


def _refund_twice(treasurer_client, payment_id: int):
    url = f"/treasury/payments/{payment_id}/refunds"
    data = {"amount": "100", "reason": "Double paiement", "confirm": "1"}
    return treasurer_client.post(url, data=data), treasurer_client.post(url, data=data)


def test_a_lost_refund_answer_then_a_second_click_refunds_once(
    stripe_app, localstripe, strict_stripe, paid, treasurer_client, outbox
):
    payment_id = paid(10000)
    strict_stripe.lose_answer("POST", "/v1/refunds")
    first, second = _refund_twice(treasurer_client, payment_id)
    assert first.status_code == 302
    assert second.status_code == 302
    # Stripe refunded 100 € once: the second click first resent the pending refund with its
    # own key (Stripe replayed its first answer), then found nothing left to refund.
    assert [r["amount"] for r in _stripe_refunds(localstripe, stripe_app, payment_id)] == [10000]
    payment = reload(stripe_app, payment_id)
    assert (payment.refunded_amount, payment.status) == (10000, PaymentStatus.REFUNDED)
    with stripe_app.app_context():
        rows = db.session.scalars(select(Refund).where(Refund.payment_id == payment_id)).all()
        assert [(r.amount, r.status) for r in rows] == [(10000, "succeeded")]
    keys = [key for path, key in strict_stripe.idempotency_keys if path == "/v1/refunds"]
    assert len(keys) == 2
    assert len(set(keys)) == 1
    mails = [m for m in outbox(to="payer@example.org") if m.template == "payments/refund"]
    assert len(mails) == 1


def test_while_stripe_does_not_answer_no_new_refund_is_made(
    stripe_app, localstripe, strict_stripe, paid, treasurer_client
):
    payment_id = paid(10000)
    strict_stripe.lose_answer("POST", "/v1/refunds", times=2)
    first, second = _refund_twice(treasurer_client, payment_id)
    assert first.status_code == second.status_code == 302
    with stripe_app.app_context():
        rows = db.session.scalars(select(Refund).where(Refund.payment_id == payment_id)).all()
        # One row, still pending: the second click was refused until Stripe answers.
        assert [(r.status, r.stripe_refund_id) for r in rows] == [("pending", None)]
        assert db.session.get(Payment, payment_id).flag == "refund_unanswered"
    # Stripe did refund (the answers were lost); the due task resends with the same key.
    assert len(_stripe_refunds(localstripe, stripe_app, payment_id)) == 1
    with stripe_app.app_context():
        run_due(utcnow() + timedelta(minutes=5), echo=lambda line: None)
    payment = reload(stripe_app, payment_id)
    assert (payment.refunded_amount, payment.flag) == (10000, None)
    assert len(_stripe_refunds(localstripe, stripe_app, payment_id)) == 1


def test_a_refund_amount_must_be_whole_minor_units(stripe_app, paid, client, login, create_user):
    payment_id = paid(4000)
    treasurer = create_user("api-caisse@example.org", roles=("treasurer",))
    token = client.post(
        "/api/v1/tokens",
        json={
            "email": "api-caisse@example.org",
            "password": "correct horse battery staple",
            "otp": totp_now(),
        },
    ).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/treasury/payments/{payment_id}/refunds"
    refused = client.post(url, json={"amount": 1.5, "reason": "Erreur"}, headers=headers)
    assert refused.status_code == 422
    assert reload(stripe_app, payment_id).refunded_amount == 0
    page = login(client, treasurer).post(
        f"/treasury/payments/{payment_id}/refunds",
        data={"amount": "1.505", "reason": "Erreur", "confirm": "1"},
    )
    assert page.status_code == 422
    assert reload(stripe_app, payment_id).refunded_amount == 0


def test_a_dashboard_refund_arrives_by_webhook_and_the_payer_is_told(
    stripe_app, client, localstripe, paid, webhook_secret, outbox
):
    payment_id = paid(4000)
    with stripe_app.app_context():
        intent = db.session.get(Payment, payment_id).stripe_payment_intent_id
    refund = stripe_api(localstripe, "POST", "/v1/refunds", payment_intent=intent, amount=1500)
    body = event("refund.created", refund)
    for _ in range(2):  # delivered twice
        response = client.post(
            WEBHOOK,
            data=body,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": sign(body, webhook_secret),
            },
        )
        assert response.status_code == 200
    payment = reload(stripe_app, payment_id)
    assert (payment.refunded_amount, payment.status) == (1500, PaymentStatus.PARTIALLY_REFUNDED)
    with stripe_app.app_context():
        [row] = db.session.scalars(select(Refund).where(Refund.payment_id == payment_id)).all()
        assert (row.stripe_refund_id, row.settled_amount, row.settled_currency) == (
            refund["id"],
            1500,
            "eur",
        )
    [mail] = [m for m in outbox(to="payer@example.org") if m.template == "payments/refund"]
    assert "€15.00" in mail.body_text  # the payer reads English


def test_the_daily_sweep_lists_refunds_once_instead_of_every_charge(
    stripe_app, localstripe, strict_stripe, paid
):
    payments = [paid(2000) for _ in range(3)]
    with stripe_app.app_context():
        intent = db.session.get(Payment, payments[1]).stripe_payment_intent_id
    stripe_api(localstripe, "POST", "/v1/refunds", payment_intent=intent, amount=700)
    # Live servers of other tests may still be told of the refund by webhook: let them finish
    # before counting this test's calls, and hold what localstripe relays late (on a busy
    # machine its events may reach the proxy after this point): only the sweep is counted.
    strict_stripe.webhooks.wait_idle()
    strict_stripe.reset()
    strict_stripe.webhooks.holding = True
    try:
        with stripe_app.app_context():
            lines = run_due(echo=lambda line: None)
        sweep = next(line for line in lines if line.startswith("payments-refund-sweep"))
        assert "1 recorded" in sweep
        assert reload(stripe_app, payments[1]).refunded_amount == 700
        with stripe_app.app_context():
            [row] = db.session.scalars(select(Refund).where(Refund.payment_id == payments[1])).all()
            assert (row.settled_amount, row.settled_currency) == (700, "eur")
        listings = strict_stripe.calls("GET", "/v1/refunds")
        assert len(listings) == 1
        assert "gte" in listings[0]["created"]
        assert strict_stripe.calls("GET", r"/v1/charges/\w+") == []  # no call per charge
        with stripe_app.app_context():
            assert db.session.get(StripeSweep, "refunds") is not None
            again = run_due(echo=lambda line: None)
        assert any("refund sweep not due" in line for line in again)
        assert len(strict_stripe.calls("GET", "/v1/refunds")) == 1
    finally:
        strict_stripe.webhooks.reset()  # what was held is dropped: the sweep recorded it


def test_a_charge_refunded_event_never_loses_a_refund_whose_sum_matches_a_stale_row(
    stripe_app, client, localstripe, paid, webhook_secret
):
    """Events out of order: the ledger still holds a refund Stripe answered ``pending`` (its
    ``refund.failed`` has not arrived) when a dashboard refund of the same amount is made. The
    charge's ``amount_refunded`` then equals what the ledger knows, yet a refund is missing:
    ``charge.refunded`` must list the charge's refunds and record it, once."""
    payment_id = paid(4000)
    with stripe_app.app_context():
        payment = db.session.get(Payment, payment_id)
        intent, charge = payment.stripe_payment_intent_id, payment.stripe_charge_id
        db.session.add(
            Refund(
                payment_id=payment_id,
                amount=1500,
                reason="Geste commercial",
                status="pending",
                stripe_refund_id="re_pending_then_failed",
            )
        )
        db.session.commit()
    refund = stripe_api(localstripe, "POST", "/v1/refunds", payment_intent=intent, amount=1500)
    body = event("charge.refunded", {"id": charge, "object": "charge", "amount_refunded": 1500})
    for _ in range(2):  # delivered twice
        response = client.post(
            WEBHOOK,
            data=body,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": sign(body, webhook_secret),
            },
        )
        assert response.status_code == 200
    payment = reload(stripe_app, payment_id)
    assert (payment.refunded_amount, payment.status) == (1500, PaymentStatus.PARTIALLY_REFUNDED)
    with stripe_app.app_context():
        recorded = db.session.scalars(
            select(Refund).where(Refund.stripe_refund_id == refund["id"])
        ).all()
        assert [(row.amount, row.status) for row in recorded] == [(1500, "succeeded")]

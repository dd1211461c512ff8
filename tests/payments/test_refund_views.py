"""The treasurer's refund: a form, a confirmation step, then a real refund in localstripe."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import select

from marketplace.audit import AuditLog
from marketplace.extensions import db
from marketplace.payments import gateway
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus, Refund
from tests.payments.conftest import HEADERS, card


@pytest.fixture
def stripe_stand_in(app, localstripe) -> Iterator[str]:
    """Point the app's Stripe client at the test session's localstripe."""
    saved = app.config["STRIPE_API_BASE"]
    app.config["STRIPE_API_BASE"] = localstripe
    app.extensions.pop(gateway.EXTENSION_KEY, None)
    try:
        yield localstripe
    finally:
        app.config["STRIPE_API_BASE"] = saved
        app.extensions.pop(gateway.EXTENSION_KEY, None)


def _card(base: str) -> str:
    """A Visa test card as a payment method (what the page's card element would give)."""
    return card(base)


@pytest.fixture
def paid_in_stripe(app, stripe_stand_in, create_user) -> Callable[..., int]:
    """``paid_in_stripe(amount)``: a succeeded payment whose PaymentIntent exists in localstripe."""

    def make(amount: int = 4000) -> int:
        payer = create_user(alumni=True, status="verified", full_name="Paul Payeur")
        with app.app_context():
            client = gateway.get_gateway()
            customer = client.create_customer(
                email=payer.email, name=payer.full_name, idempotency_key=f"test-cus-{uuid.uuid4()}"
            )
            intent = client.create_payment_intent(
                amount=amount,
                currency="eur",
                customer=customer,
                payment_method=_card(stripe_stand_in),
                metadata={"test": "refund"},
                idempotency_key=f"test-pi-{uuid.uuid4()}",
            )
            assert intent.status == "succeeded"
            payment = Payment(
                kind=PaymentKind.MEMBERSHIP,
                status=PaymentStatus.SUCCEEDED,
                amount=amount,
                currency="EUR",
                payer_id=payer.id,
                payer_name=payer.full_name,
                payer_email=payer.email,
                subject={"tier": "standard", "months": 12},
                description="Standard",
                stripe_customer_id=customer,
                stripe_payment_intent_id=intent.id,
                stripe_charge_id=intent.latest_charge,
                succeeded_at=datetime.now(UTC),
            )
            db.session.add(payment)
            db.session.commit()
            return payment.id

    return make


@pytest.fixture
def treasurer_client(client, login, create_user):
    return login(client, create_user(roles=("treasurer",), locale="en"))


def _refund_url(payment_id: int) -> str:
    return f"/treasury/payments/{payment_id}/refunds"


def test_a_partial_refund_asks_for_confirmation_then_refunds(
    app, treasurer_client, paid_in_stripe, stripe_stand_in
):
    payment_id = paid_in_stripe(4000)
    first = treasurer_client.post(
        _refund_url(payment_id), data={"amount": "12.50", "reason": "Double adhésion"}
    )
    assert first.status_code == 200
    page = first.get_data(as_text=True)
    assert 'id="refund-confirmation"' in page
    assert "€12.50" in page
    assert 'name="confirm" value="1"' in page
    with app.app_context():
        assert db.session.scalars(select(Refund).where(Refund.payment_id == payment_id)).all() == []

    second = treasurer_client.post(
        _refund_url(payment_id),
        data={"amount": "12.50", "reason": "Double adhésion", "confirm": "1"},
    )
    assert second.status_code == 302
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        assert payment.refunded_amount == 1250
        assert payment.status == PaymentStatus.PARTIALLY_REFUNDED
        refund = db.session.scalars(select(Refund).where(Refund.payment_id == payment_id)).one()
        assert (refund.amount, refund.status, refund.reason) == (
            1250,
            "succeeded",
            "Double adhésion",
        )
        assert refund.stripe_refund_id
        assert db.session.scalar(
            select(AuditLog).where(
                AuditLog.action == "payment.refund", AuditLog.object_id == payment_id
            )
        )
    # Stripe holds the same refund.
    stripe_refund = requests.get(
        f"{stripe_stand_in}/v1/refunds/{refund.stripe_refund_id}",
        auth=("sk_test_localstripe", ""),
        headers=HEADERS,
        timeout=10,
    ).json()
    assert stripe_refund["amount"] == 1250
    detail = treasurer_client.get(f"/treasury/payments/{payment_id}").get_data(as_text=True)
    assert f'id="refund-{refund.id}"' in detail
    assert "€27.50" in detail  # what is left to refund


def test_an_empty_amount_refunds_everything_left(app, treasurer_client, paid_in_stripe):
    payment_id = paid_in_stripe(1500)
    confirm = treasurer_client.post(_refund_url(payment_id), data={"reason": "Erreur"})
    assert "€15.00" in confirm.get_data(as_text=True)
    done = treasurer_client.post(
        _refund_url(payment_id), data={"amount": "", "reason": "Erreur", "confirm": "1"}
    )
    assert done.status_code == 302
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        assert (payment.status, payment.refunded_amount) == (PaymentStatus.REFUNDED, 1500)


def test_more_than_what_is_left_is_refused_clearly(app, treasurer_client, paid_in_stripe):
    payment_id = paid_in_stripe(4000)
    response = treasurer_client.post(
        _refund_url(payment_id), data={"amount": "40.01", "reason": "Trop", "confirm": "1"}
    )
    assert response.status_code == 422
    assert "At most €40.00 can be refunded." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Payment, payment_id).refunded_amount == 0
        assert db.session.scalars(select(Refund).where(Refund.payment_id == payment_id)).all() == []


@pytest.mark.parametrize(
    ("data", "field"),
    [({"amount": "5", "reason": ""}, "reason"), ({"amount": "-3", "reason": "x"}, "amount")],
)
def test_a_reason_and_a_positive_amount_are_required(
    app, treasurer_client, paid_in_stripe, data, field
):
    payment_id = paid_in_stripe(4000)
    response = treasurer_client.post(_refund_url(payment_id), data={**data, "confirm": "1"})
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Payment, payment_id).refunded_amount == 0


def test_an_unpaid_payment_cannot_be_refunded(app, treasurer_client, create_user):
    with app.app_context():
        payment = Payment(
            kind=PaymentKind.MEMBERSHIP,
            status=PaymentStatus.PENDING,
            amount=4000,
            currency="EUR",
            payer_name="Nina Pending",
            subject={},
            description="Standard",
        )
        db.session.add(payment)
        db.session.commit()
        payment_id = payment.id
    response = treasurer_client.post(
        _refund_url(payment_id), data={"reason": "x", "confirm": "1"}, follow_redirects=True
    )
    assert "Nothing is left to refund on this payment." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Refund).where(Refund.payment_id == payment_id)).all() == []


@pytest.mark.parametrize("role", ["verified", "moderator"])
def test_only_the_treasury_refunds(app, client, login, create_user, paid_in_stripe, role):
    payment_id = paid_in_stripe(4000)
    if role == "verified":
        person = create_user(alumni=True, status="verified")
    else:
        person = create_user(roles=("moderator",))
    response = login(client, person).post(
        _refund_url(payment_id), data={"reason": "x", "confirm": "1"}
    )
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(Payment, payment_id).refunded_amount == 0

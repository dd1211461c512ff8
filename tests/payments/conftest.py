"""Payment fixtures: the app pointed at the session's localstripe, cards, signed webhook events."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask import Flask

from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.payments import services
from marketplace.payments.gateway import API_VERSION, EXTENSION_KEY
from marketplace.payments.models import Payment, PaymentKind
from tests.strict_stripe import flatten

API_KEY = "sk_test_localstripe"
# The tests play the Stripe dashboard and Stripe.js: they speak the pinned version too.
HEADERS = {"Stripe-Version": API_VERSION}
VISA = "4242424242424242"
DECLINED = "4000000000000341"
THREE_D_SECURE = "4000002760003184"


@pytest.fixture
def stripe_app(app: Flask, localstripe: str, strict_stripe: Any) -> Iterator[Flask]:
    """The session app talking to the session's Stripe (the strict proxy in front of
    localstripe; its gateway rebuilt, then restored)."""
    strict_stripe.reset()
    previous = app.config["STRIPE_API_BASE"]
    app.config["STRIPE_API_BASE"] = localstripe
    app.extensions.pop(EXTENSION_KEY, None)
    try:
        yield app
    finally:
        app.config["STRIPE_API_BASE"] = previous
        app.extensions.pop(EXTENSION_KEY, None)


@pytest.fixture
def webhook_secret(app: Flask) -> str:
    return app.config["STRIPE_WEBHOOK_SECRET"]


def card(localstripe: str, number: str = VISA) -> str:
    """A localstripe card payment method (what the page's confirmCardSetup would give)."""
    response = requests.post(
        f"{localstripe}/v1/payment_methods",
        auth=(API_KEY, ""),
        headers=HEADERS,
        data={
            "type": "card",
            "card[number]": number,
            "card[exp_month]": "12",
            "card[exp_year]": "2034",
            "card[cvc]": "123",
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["id"]


def stripe_api(localstripe: str, method: str, path: str, **data: Any) -> dict:
    """Call Stripe directly (as the Stripe dashboard or a test would), Stripe's form encoding."""
    pairs = flatten(data)
    response = requests.request(
        method,
        f"{localstripe}{path}",
        auth=(API_KEY, ""),
        headers=HEADERS,
        params=pairs if method.upper() == "GET" else None,
        data=pairs if method.upper() != "GET" else None,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header: ``t=<ts>,v1=<hmac-sha256 of "<ts>.<payload>">``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def event(kind: str, obj: dict, event_id: str | None = None) -> bytes:
    """A Stripe event body as Stripe sends it."""
    body = {
        "id": event_id or f"evt_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "livemode": False,
        "type": kind,
        "data": {"object": obj},
    }
    return json.dumps(body, indent=1).encode()


@pytest.fixture
def payer(create_user: Callable[..., User]) -> User:
    return create_user("payer@example.org", status="verified", locale="en")


@pytest.fixture
def new_payment(app: Flask, payer: User) -> Callable[..., int]:
    """``new_payment(amount=4000, currency="eur", kind=...)``: a committed pending payment's id."""

    def make(
        amount: int = 4000, currency: str = "eur", kind: PaymentKind = PaymentKind.PARTNER_PLAN
    ) -> int:
        with app.app_context():
            user = db.session.get(User, payer.id)
            payment = services.create_payment(
                kind=kind,
                amount=amount,
                currency=currency,
                payer=user,
                subject={"plan": "test", "months": 12},
                description="Test payment",
            )
            db.session.commit()
            return payment.id

    return make


@pytest.fixture
def fulfilled() -> Iterator[list[int]]:
    """Partner-plan fulfilments (payment ids) and reversals (negative ids), in order."""
    calls: list[int] = []
    kind = PaymentKind.PARTNER_PLAN
    previous = services._FULFILMENTS.get(kind), services._REVERSALS.get(kind)
    services.register_fulfilment(kind, lambda payment: calls.append(payment.id))
    services.register_reversal(kind, lambda payment: calls.append(-payment.id))
    try:
        yield calls
    finally:
        for registry, original in zip(
            (services._FULFILMENTS, services._REVERSALS), previous, strict=True
        ):
            if original is None:
                registry.pop(kind, None)
            else:
                registry[kind] = original


def reload(app: Flask, payment_id: int) -> Payment:
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        assert payment is not None
        db.session.expunge(payment)
        return payment

"""Payment fixtures: the app pointed at the session's localstripe, cards, signed webhook events,
and the payment documents' association, French partner and paid payments."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

import pytest
import requests
from flask import Flask

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.models import Membership
from marketplace.payments import documents, services
from marketplace.payments.gateway import API_VERSION, EXTENSION_KEY
from marketplace.payments.models import (
    AssociationDetails,
    Payment,
    PaymentKind,
    PaymentStatus,
)
from partners.models import (
    Partner,
    PartnerBillingIdentity,
    PartnerMember,
    PartnerStatus,
    TeamRole,
)
from tests.payments.documents_support import ASSOCIATION
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


# ---------------------------------------------------------------- payment documents


@pytest.fixture
def association(app) -> None:
    with app.app_context():
        db.session.add(AssociationDetails(**ASSOCIATION))
        db.session.commit()


@pytest.fixture
def french_partner(app, create_user) -> Callable[..., tuple[int, object]]:
    """``french_partner()`` → (partner id, owner): a French company with its billing identity."""

    def make(*, locale: str = "fr") -> tuple[int, object]:
        owner = create_user(full_name="Olga Owner", locale=locale)
        with app.app_context():
            partner = Partner(
                name="Voyages Éclair",
                slug=f"voyages-eclair-{uuid.uuid4().hex[:6]}",
                country="FR",
                contact_name="Olga Owner",
                contact_email=owner.email,
                status=PartnerStatus.APPROVED,
            )
            db.session.add(partner)
            db.session.flush()
            db.session.add(
                PartnerMember(partner_id=partner.id, user_id=owner.id, role=TeamRole.OWNER)
            )
            db.session.add(
                PartnerBillingIdentity(
                    partner_id=partner.id,
                    legal_name="Voyages Éclair SAS",
                    address="8 avenue du Départ",
                    postal_code="69002",
                    city="Lyon",
                    country="FR",
                    siren="732829320",
                    siret="73282932000074",
                    vat_number="FR44732829320",
                    po_reference="BC-2091-17",
                )
            )
            db.session.commit()
            return partner.id, owner

    return make


@pytest.fixture
def paid(app) -> Callable[..., int]:
    """``paid(kind=..., amount=..., payer=..., partner_id=...)``: a succeeded payment, fulfilled
    and issued its document as the success transaction does; its id."""

    def make(
        *,
        kind: PaymentKind = PaymentKind.PARTNER_PLAN,
        amount: int = 120000,
        payer=None,
        partner_id: int | None = None,
        subject: dict | None = None,
        at: datetime | None = None,
    ) -> int:
        with app.app_context():
            payment = Payment(
                kind=kind,
                status=PaymentStatus.SUCCEEDED,
                amount=amount,
                currency="eur",
                payer_id=payer.id if payer else None,
                payer_name=payer.full_name if payer else "Élodie Crédit",
                payer_email=payer.email if payer else "elodie@example.org",
                partner_id=partner_id,
                subject=subject if subject is not None else {"plan": "annual", "days": 365},
                description="test",
                succeeded_at=at or utcnow(),
                stripe_payment_intent_id=f"pi_doc_{uuid.uuid4().hex[:10]}",
            )
            db.session.add(payment)
            db.session.flush()
            if kind == PaymentKind.MEMBERSHIP:
                day = (at or utcnow()).date()
                db.session.add(
                    Membership(
                        user_id=payer.id,
                        starts_on=day,
                        ends_on=date(day.year + 1, day.month, day.day),
                        source="payment",
                        payment_id=payment.id,
                    )
                )
                db.session.flush()
            documents.issue_payment_document(payment, at=at)
            db.session.commit()
            return payment.id

    return make

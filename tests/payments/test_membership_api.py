"""The membership card flow through the JSON API, against the session's real localstripe."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta
from flask import Flask
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.models import Membership
from marketplace.payments import refunds as payment_refunds
from marketplace.payments.models import Payment, PaymentKind, PaymentProfile, PaymentStatus
from tests.conftest import PASSWORD
from tests.payments.conftest import DECLINED, THREE_D_SECURE, VISA, card, stripe_api

EN = {"Accept-Language": "en"}


@pytest.fixture
def alumnus(create_user: Callable[..., User], seed_reference: None) -> User:
    return create_user("member@example.org", alumni=True, status="verified", locale="en")


def bearer(client, email: str) -> dict[str, str]:
    response = client.post("/api/v1/tokens", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}", **EN}


def confirm_setup(localstripe: str, client_secret: str, number: str = VISA) -> str:
    """What the app's confirmCardSetup does: attach a card to the SetupIntent; its id."""
    setup_id = client_secret.split("_secret_")[0]
    method = card(localstripe, number)
    body = stripe_api(
        localstripe, "POST", f"/v1/setup_intents/{setup_id}/confirm", payment_method=method
    )
    if body["status"] == "requires_action":  # the bank's 3-D Secure step on the card setup
        body = stripe_api(localstripe, "POST", f"/v1/setup_intents/{setup_id}/confirm")
    assert body["status"] == "succeeded"
    assert body["payment_method"] == method
    return method


def checkout(client, headers, tier: str = "standard") -> dict:
    response = client.post("/api/v1/me/membership/checkout", json={"tier": tier}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def memberships(app: Flask, user: User) -> list[Membership]:
    with app.app_context():
        rows = db.session.scalars(
            select(Membership).where(Membership.user_id == user.id).order_by(Membership.starts_on)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def test_a_verified_alumnus_pays_the_standard_tier(
    app, client, stripe_app, localstripe, alumnus, outbox
):
    headers = bearer(client, alumnus.email)
    assert client.get("/api/v1/me/membership", headers=headers).get_json() == {
        "status": "none",
        "tier": None,
        "valid_until": None,
    }
    started = checkout(client, headers)
    assert started["amount"] == 4000
    assert started["currency"] == "eur"
    assert started["publishable_key"] == app.config["STRIPE_PUBLISHABLE_KEY"]
    method = confirm_setup(localstripe, started["setup_intent_client_secret"])

    answer = client.post(
        f"/api/v1/payments/{started['payment_id']}/confirm",
        json={"payment_method": method},
        headers=headers,
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == "succeeded"

    today = utcnow().date()
    [period] = memberships(app, alumnus)
    assert (period.starts_on, period.ends_on) == (today, today + relativedelta(months=12))
    assert period.source == "payment"
    assert period.payment_id == started["payment_id"]
    status = client.get("/api/v1/me/membership", headers=headers).get_json()
    assert status == {
        "status": "active",
        "tier": "standard",
        "valid_until": (today + relativedelta(months=12) - timedelta(days=1)).isoformat(),
    }
    detail = client.get(f"/api/v1/payments/{started['payment_id']}", headers=headers).get_json()
    assert detail["status"] == "succeeded"
    assert detail["kind"] == "membership"
    assert detail["amount"] == 4000
    with app.app_context():
        profile = db.session.scalar(
            select(PaymentProfile).where(PaymentProfile.user_id == alumnus.id)
        )
        assert profile.payment_method_id == method  # saved for an opt-in auto-renewal
    # One receipt, and the payment attestation (attached) once issued after the commit.
    assert [m.template for m in outbox(to=alumnus.email)] == [
        "payments/receipt",
        "payments/document",
    ]


def test_renewing_early_extends_from_the_current_end(app, client, stripe_app, localstripe, alumnus):
    headers = bearer(client, alumnus.email)
    for _ in range(2):
        started = checkout(client, headers, tier="young")
        method = confirm_setup(localstripe, started["setup_intent_client_secret"])
        answer = client.post(
            f"/api/v1/payments/{started['payment_id']}/confirm",
            json={"payment_method": method},
            headers=headers,
        )
        assert answer.get_json()["status"] == "succeeded"
    today = utcnow().date()
    first, second = memberships(app, alumnus)
    assert first.ends_on == today + relativedelta(months=12)
    assert second.starts_on == first.ends_on
    assert second.ends_on == first.ends_on + relativedelta(months=12)
    status = client.get("/api/v1/me/membership", headers=headers).get_json()
    assert status["valid_until"] == (second.ends_on - timedelta(days=1)).isoformat()


def test_a_declined_card_fails_and_gives_no_membership(
    app, client, stripe_app, localstripe, alumnus
):
    headers = bearer(client, alumnus.email)
    started = checkout(client, headers)
    method = confirm_setup(localstripe, started["setup_intent_client_secret"], DECLINED)
    answer = client.post(
        f"/api/v1/payments/{started['payment_id']}/confirm",
        json={"payment_method": method},
        headers=headers,
    )
    assert answer.status_code == 200
    assert answer.get_json()["status"] == "failed"
    assert answer.get_json()["message"]
    assert memberships(app, alumnus) == []
    with app.app_context():
        assert db.session.get(Payment, started["payment_id"]).status == PaymentStatus.FAILED
        profile = db.session.scalar(
            select(PaymentProfile).where(PaymentProfile.user_id == alumnus.id)
        )
        assert profile.payment_method_id is None  # a refused card is not kept
    assert client.get("/api/v1/me/membership", headers=headers).get_json()["status"] == "none"


def test_three_d_secure_requires_action_then_completes(
    app, client, stripe_app, localstripe, alumnus
):
    headers = bearer(client, alumnus.email)
    started = checkout(client, headers)
    method = confirm_setup(localstripe, started["setup_intent_client_secret"], THREE_D_SECURE)
    url = f"/api/v1/payments/{started['payment_id']}/confirm"
    answer = client.post(url, json={"payment_method": method}, headers=headers).get_json()
    assert answer["status"] == "requires_action"
    secret = answer["payment_intent_client_secret"]
    assert memberships(app, alumnus) == []
    # What the app's confirmCardPayment does once the member passes the bank's check.
    intent_id = secret.split("_secret_")[0]
    stripe_api(
        localstripe,
        "POST",
        f"/v1/payment_intents/{intent_id}/_authenticate",
        client_secret=secret,
        success="true",
    )
    answer = client.post(url, json={"payment_method": method}, headers=headers).get_json()
    assert answer["status"] == "succeeded"
    [period] = memberships(app, alumnus)
    assert period.payment_id == started["payment_id"]


def test_a_card_not_set_up_for_the_payment_is_refused(
    app, client, stripe_app, localstripe, alumnus
):
    headers = bearer(client, alumnus.email)
    started = checkout(client, headers)
    stranger = card(localstripe)  # never confirmed on this payment's SetupIntent
    answer = client.post(
        f"/api/v1/payments/{started['payment_id']}/confirm",
        json={"payment_method": stranger},
        headers=headers,
    )
    assert answer.status_code == 422
    assert memberships(app, alumnus) == []


def test_a_full_refund_ends_the_membership(app, client, stripe_app, localstripe, alumnus):
    headers = bearer(client, alumnus.email)
    paid = []
    for _ in range(2):  # this year and, paid early, the next one
        started = checkout(client, headers)
        method = confirm_setup(localstripe, started["setup_intent_client_secret"])
        answer = client.post(
            f"/api/v1/payments/{started['payment_id']}/confirm",
            json={"payment_method": method},
            headers=headers,
        )
        assert answer.get_json()["status"] == "succeeded"
        paid.append(started["payment_id"])
    today = utcnow().date()
    with app.app_context():
        # The first year began ten days ago.
        current = db.session.scalar(select(Membership).where(Membership.payment_id == paid[0]))
        current.starts_on = today - timedelta(days=10)
        db.session.commit()
        # Refunding the year not started yet removes it; refunding the current one ends it today.
        payment_refunds.refund_payment(paid[1], amount=None, reason="duplicate", actor=None)
    [period] = memberships(app, alumnus)
    assert period.payment_id == paid[0]
    assert period.ends_on > today
    with app.app_context():
        payment_refunds.refund_payment(paid[0], amount=None, reason="left", actor=None)
        assert db.session.get(Payment, paid[0]).status == PaymentStatus.REFUNDED
    [period] = memberships(app, alumnus)
    assert period.ends_on == today
    status = client.get("/api/v1/me/membership", headers=headers).get_json()
    assert status["status"] == "grace"
    assert status["valid_until"] == (today - timedelta(days=1)).isoformat()


def test_other_people_and_anonymous_callers(
    app, client, stripe_app, localstripe, alumnus, create_user
):
    headers = bearer(client, alumnus.email)
    started = checkout(client, headers)
    other = create_user("other@example.org", alumni=True, status="verified")
    other_headers = bearer(client, other.email)
    payment_url = f"/api/v1/payments/{started['payment_id']}"
    assert client.get(payment_url, headers=other_headers).status_code == 404
    confirm = client.post(
        f"{payment_url}/confirm", json={"payment_method": "pm_card_visa"}, headers=other_headers
    )
    assert confirm.status_code == 404
    treasurer = create_user("treasurer@example.org", roles=("treasurer",))
    treasurer_headers = bearer_with_otp(client, treasurer.email)
    assert client.get(payment_url, headers=treasurer_headers).get_json()["status"] == "pending"
    assert client.get("/api/v1/me/membership").status_code == 401
    assert (
        client.post("/api/v1/me/membership/checkout", json={"tier": "standard"}).status_code == 401
    )
    pending = create_user("pending@example.org", alumni=True, status="pending")
    refused = client.post(
        "/api/v1/me/membership/checkout",
        json={"tier": "standard"},
        headers=bearer(client, pending.email),
    )
    assert refused.status_code == 403
    unknown = client.post("/api/v1/me/membership/checkout", json={"tier": "gold"}, headers=headers)
    assert unknown.status_code == 404
    with app.app_context():
        assert (
            db.session.scalar(
                select(Payment).where(
                    Payment.payer_id == pending.id, Payment.kind == PaymentKind.MEMBERSHIP
                )
            )
            is None
        )


def bearer_with_otp(client, email: str) -> dict[str, str]:
    from tests.conftest import totp_now

    response = client.post(
        "/api/v1/tokens", json={"email": email, "password": PASSWORD, "otp": totp_now()}
    )
    assert response.status_code == 201, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}", **EN}

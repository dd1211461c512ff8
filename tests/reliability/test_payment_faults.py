"""Stripe unreachable or silent under the membership pages, and the pay button pressed twice.

Real localstripe for the good path; for the fault, the gateway is pointed at a closed port
(refused at once) or at a server that accepts and never answers (the gateway's timeout). The
member gets a clear message within a bounded time, the payment stays pending, nothing is
given, and paying again once Stripe is back works. Pressing "Pay" twice at once (the same
form, the same session and CSRF token, two real concurrent requests with real commits)
gives one membership and one receipt.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.membership.models import Membership
from marketplace.notifications.models import OutboxMessage
from marketplace.payments.gateway import EXTENSION_KEY
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus
from tests.payments import conftest as payment_fixtures
from tests.payments import test_sync
from tests.payments.test_membership_api import confirm_setup
from tests.payments.test_membership_checkout import setup_secret, start

# Fixtures of the payments suite.
stripe_app = payment_fixtures.stripe_app
closed_port = test_sync.closed_port
silent_server = test_sync.silent_server

EN = {"Accept-Language": "en"}


@pytest.fixture
def member(create_user, app: Flask):
    from marketplace.membership.models import MembershipTier

    with app.app_context():
        if not db.session.scalar(select(MembershipTier).where(MembershipTier.code == "standard")):
            db.session.add(
                MembershipTier(
                    code="standard", name_fr="Standard", name_en="Standard", amount=4000, position=2
                )
            )
            db.session.commit()
    return create_user(
        f"member-{uuid.uuid4().hex[:8]}@example.org", alumni=True, status="verified", locale="en"
    )


def point_stripe_at(app: Flask, base: str) -> None:
    app.config["STRIPE_API_BASE"] = base
    app.extensions.pop(EXTENSION_KEY, None)


def state(app: Flask, payment_id: int, user_id: int) -> tuple[PaymentStatus, int, int]:
    """The payment's status, the member's membership periods, receipts queued to them."""
    with app.app_context():
        payment = db.session.get(Payment, payment_id, populate_existing=True)
        periods = db.session.scalar(
            select(func.count(Membership.id)).where(Membership.user_id == user_id)
        )
        receipts = db.session.scalar(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.recipient == payment.payer_email,
                OutboxMessage.template == "payments/receipt",
            )
        )
        return payment.status, periods, receipts


@pytest.mark.parametrize("target", ["closed_port", "silent_server"])
def test_stripe_down_at_pay_time_says_so_and_gives_nothing(
    app, client, login, stripe_app, localstripe, member, request, target
):
    login(client, member)
    payment_id, page, _csrf = start(client)
    method = confirm_setup(localstripe, setup_secret(page))
    port = request.getfixturevalue(target)
    point_stripe_at(app, f"http://127.0.0.1:{port}")
    try:
        started = time.monotonic()
        answer = client.post(
            f"/membership/pay/{payment_id}/confirm", json={"payment_method": method}, headers=EN
        )
        elapsed = time.monotonic() - started
    finally:
        point_stripe_at(app, localstripe)
    assert answer.status_code == 503
    body = answer.get_json()
    assert body["status"] == "error"
    assert "unreachable" in body["message"]
    assert elapsed < 15  # the gateway's 10 s timeout, no retries
    assert state(app, payment_id, member.id) == (PaymentStatus.PENDING, 0, 0)
    page = client.get(f"/membership/pay/{payment_id}", headers=EN).get_data(as_text=True)
    assert 'data-status="succeeded"' not in page

    # Stripe is back: the same payment goes through, once.
    again = client.post(f"/membership/pay/{payment_id}/confirm", json={"payment_method": method})
    assert again.status_code == 200
    assert again.get_json()["status"] == "succeeded"
    assert state(app, payment_id, member.id) == (PaymentStatus.SUCCEEDED, 1, 1)


def test_stripe_down_at_checkout_opens_nothing_payable(
    app, client, login, stripe_app, localstripe, member, closed_port
):
    login(client, member)
    point_stripe_at(app, f"http://127.0.0.1:{closed_port}")
    try:
        response = client.post("/membership/checkout/standard", headers=EN)
    finally:
        point_stripe_at(app, localstripe)
    assert response.status_code == 302
    assert "/membership/pay/" not in response.headers["Location"]
    with app.app_context():
        payments = db.session.scalars(
            select(Payment).where(
                Payment.payer_id == member.id, Payment.kind == PaymentKind.MEMBERSHIP
            )
        ).all()
    assert all(p.status != PaymentStatus.SUCCEEDED for p in payments)
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count(Membership.id)).where(Membership.user_id == member.id)
            )
            == 0
        )


def test_pay_pressed_twice_at_once_gives_one_membership_and_one_receipt(
    app, client, login, stripe_app, localstripe, member, csrf_enabled
):
    login(client, member)
    payment_id, page, csrf = start(client)
    method = confirm_setup(localstripe, setup_secret(page))
    # A second browser tab: the same session cookie, the same form token.
    twin = app.test_client()
    twin.set_cookie("session", client.get_cookie("session").value)
    barrier = threading.Barrier(2)

    def press(browser):
        barrier.wait(timeout=10)
        return browser.post(
            f"/membership/pay/{payment_id}/confirm",
            json={"payment_method": method},
            headers={"X-CSRFToken": csrf},
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(press, [client, twin]))
    assert [a.status_code for a in answers if a.status_code >= 500] == []
    assert any(a.status_code == 200 and a.get_json()["status"] == "succeeded" for a in answers)
    assert state(app, payment_id, member.id) == (PaymentStatus.SUCCEEDED, 1, 1)

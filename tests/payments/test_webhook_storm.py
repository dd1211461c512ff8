"""Webhooks against a live server (gunicorn, its own database, real commits and races):
20 identical deliveries at once, the browser return racing the webhook, localstripe's own
signed webhook, and a storm of 1,000 shuffled deliveries with duplicates."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace import create_app
from marketplace.accounts.models import User
from marketplace.membership.models import Membership
from marketplace.notifications.models import OutboxMessage
from marketplace.payments import checkout as payment_checkout
from marketplace.payments import sync as payment_sync
from marketplace.payments.models import (
    AttemptStatus,
    Payment,
    PaymentAttempt,
    PaymentKind,
    PaymentStatus,
    StripeEvent,
)
from tests.conftest import test_config as base_config
from tests.live_server import Server, free_port, serve
from tests.payments.conftest import card, event, sign, stripe_api

SECRET = "whsec_storm_test_secret"
URL = "/payments/stripe/webhook"


@pytest.fixture(autouse=True)
def _transaction() -> None:
    """The rolled-back transaction of tests/conftest.py would hide the races: not here."""


@pytest.fixture(scope="module")
def server(
    make_database: Callable[[], str],
    tmp_path_factory: pytest.TempPathFactory,
    localstripe: str,
) -> Iterator[Server]:
    with serve(
        make_database,
        tmp_path_factory.mktemp("storm"),
        workers=2,
        threads=8,
        SECRET_KEY="storm-secret-key-not-for-production-0123456789",
        RATELIMIT_ENABLED="false",
        STRIPE_API_BASE=localstripe,
        STRIPE_WEBHOOK_SECRET=SECRET,
    ) as running:
        yield running


def _payer(server: Server) -> int:
    suffix = uuid.uuid4().hex[:8]
    with Session(server.engine) as session:
        user = User(
            email=f"storm-{suffix}@example.org",
            password_hash="x",
            full_name="Storm Payer",
            locale="en",
        )
        session.add(user)
        session.commit()
        return user.id


def _payment(server: Server, payer_id: int, *, intent_id: str | None = None) -> int:
    with Session(server.engine) as session:
        user = session.get(User, payer_id)
        payment = Payment(
            kind=PaymentKind.MEMBERSHIP,
            status=PaymentStatus.PENDING,
            amount=4000,
            currency="eur",
            payer_id=user.id,
            payer_name=user.full_name,
            payer_email=user.email,
            subject={"months": 12},
            description="Membership",
            stripe_payment_intent_id=intent_id,
        )
        session.add(payment)
        session.commit()
        return payment.id


def _intent(localstripe: str, payment_id: int, attempt_key: str | None = None) -> dict:
    metadata = {"payment_id": str(payment_id)}
    if attempt_key:
        metadata["attempt"] = attempt_key
    return stripe_api(
        localstripe,
        "POST",
        "/v1/payment_intents",
        payment_method_types=["card"],
        amount=4000,
        currency="eur",
        payment_method=card(localstripe),
        confirm="true",
        metadata=metadata,
    )


def _unanswered_attempt(server: Server, payment_id: int) -> str:
    """The attempt row a confirm writes before calling Stripe, left without an answer."""
    key = f"storm:pi:{uuid.uuid4().hex}"
    with Session(server.engine) as session:
        session.add(
            PaymentAttempt(
                payment_id=payment_id,
                idempotency_key=key,
                payment_method="pm_card",
                status=AttemptStatus.UNANSWERED,
            )
        )
        session.commit()
    return key


def _paid(server: Server, localstripe: str, payer_id: int) -> tuple[int, dict]:
    payment_id = _payment(server, payer_id)
    intent = _intent(localstripe, payment_id)
    with Session(server.engine) as session:
        session.get(Payment, payment_id).stripe_payment_intent_id = intent["id"]
        session.commit()
    return payment_id, intent


def _deliver(server: Server, body: bytes) -> int:
    response = requests.post(
        f"{server.url}{URL}",
        data=body,
        headers={"Stripe-Signature": sign(body, SECRET), "Content-Type": "application/json"},
        timeout=60,
    )
    return response.status_code


def _effects(server: Server, payment_id: int) -> tuple[Payment, int, int]:
    with Session(server.engine) as session:
        payment = session.get(Payment, payment_id)
        session.expunge(payment)
        memberships = session.scalar(
            select(func.count(Membership.id)).where(Membership.payment_id == payment_id)
        )
        receipts = session.scalar(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.template == "payments/receipt",
                OutboxMessage.recipient == payment.payer_email,
            )
        )
        return payment, memberships, receipts


def test_the_same_event_20_times_at_once_has_one_effect(server, localstripe):
    payment_id, intent = _paid(server, localstripe, _payer(server))
    body = event("payment_intent.succeeded", intent)
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda _: _deliver(server, body), range(20)))
    assert statuses == [200] * 20
    payment, memberships, receipts = _effects(server, payment_id)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert (memberships, receipts) == (1, 1)
    with Session(server.engine) as session:
        stored = session.scalar(
            select(func.count(StripeEvent.id)).where(StripeEvent.object_id == intent["id"])
        )
    assert stored == 1


def test_browser_return_and_webhooks_racing_fulfil_once(server, localstripe, tmp_path):
    payment_id, intent = _paid(server, localstripe, _payer(server))
    database_url = server.engine.url.render_as_string(hide_password=False)
    racer = create_app(
        {
            **base_config(database_url, tmp_path),
            "STRIPE_API_BASE": localstripe,
            "STRIPE_WEBHOOK_SECRET": SECRET,
        }
    )

    def browser_return(_: int) -> str:
        with racer.app_context():
            return str(payment_sync.sync_payment(payment_id).status)

    def webhook(_: int) -> int:
        return _deliver(server, event("payment_intent.succeeded", intent))

    with ThreadPoolExecutor(max_workers=16) as pool:
        returns = [pool.submit(browser_return, i) for i in range(8)]
        hooks = [pool.submit(webhook, i) for i in range(8)]
        assert {future.result() for future in returns} == {"succeeded"}
        assert {future.result() for future in hooks} == {200}
    with racer.app_context():
        from marketplace.extensions import db

        db.engine.dispose()
    payment, memberships, receipts = _effects(server, payment_id)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert (memberships, receipts) == (1, 1)


def test_a_real_localstripe_webhook_reaches_the_app_and_syncs(server, localstripe):
    requests.post(
        f"{localstripe}/_config/webhooks/storm",
        data={"url": f"{server.url}{URL}", "secret": SECRET},
        timeout=10,
    ).raise_for_status()
    try:
        # The confirm call's answer was lost: only Stripe's webhook tells us.
        payment_id = _payment(server, _payer(server))
        intent = _intent(localstripe, payment_id, _unanswered_attempt(server, payment_id))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            payment, memberships, receipts = _effects(server, payment_id)
            if payment.status == PaymentStatus.SUCCEEDED:
                break
            time.sleep(0.2)
        assert payment.status == PaymentStatus.SUCCEEDED
        assert payment.stripe_payment_intent_id == intent["id"]
        assert (memberships, receipts) == (1, 1)
    finally:
        # Later tests' intents must not be sent to a server that is gone.
        requests.post(
            f"{localstripe}/_config/webhooks/storm",
            data={"url": f"http://127.0.0.1:{free_port()}/", "secret": SECRET},
            timeout=10,
        )


def test_a_storm_of_1000_shuffled_deliveries_with_duplicates(server, localstripe, strict_stripe):
    payer_id = _payer(server)
    payments: list[tuple[int, dict]] = []
    bodies: list[bytes] = []
    for _ in range(40):
        payment_id, intent = _paid(server, localstripe, payer_id)
        stripe_api(localstripe, "POST", "/v1/refunds", payment_intent=intent["id"], amount=500)
        charge = intent["latest_charge"]
        charge_id = charge["id"] if isinstance(charge, dict) else charge
        payments.append((payment_id, intent))
        bodies += [
            event("payment_intent.succeeded", intent),
            event("payment_intent.payment_failed", intent),
            event("charge.refunded", {"id": charge_id, "object": "charge"}),
            event("charge.dispute.created", strict_stripe.open_dispute(charge_id)),
            event("payout.paid", {"id": f"po_{payment_id}", "object": "payout"}),
        ]
    rng = random.Random(5)
    deliveries = bodies + [rng.choice(bodies) for _ in range(1000 - len(bodies))]
    rng.shuffle(deliveries)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda body: _deliver(server, body), deliveries))
    assert time.monotonic() - started < 90
    assert [s for s in statuses if s != 200] == []
    for payment_id, _intent_data in payments:
        payment, memberships, _receipts = _effects(server, payment_id)
        assert payment.status == PaymentStatus.DISPUTED
        assert payment.refunded_amount == 500
        assert payment.flag == "dispute"
        assert memberships == 1
    with Session(server.engine) as session:
        receipts = session.scalar(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.template == "payments/receipt",
                OutboxMessage.recipient.like("storm-%"),
            )
        )
        stored = session.scalar(select(func.count(StripeEvent.id)))
    # One receipt per payment of this test (plus those of the earlier tests' payers).
    assert receipts >= len(payments)
    with Session(server.engine) as session:
        user = session.get(User, payer_id)
        mine = session.scalar(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.template == "payments/receipt", OutboxMessage.recipient == user.email
            )
        )
    assert mine == len(payments)
    assert stored >= len(bodies)


def test_twenty_parallel_confirms_make_one_payment_intent(
    server, localstripe, strict_stripe, tmp_path
):
    """Issue 12, finding 6: a double (or twentyfold) click charges once, without relying on
    Stripe's idempotency keys: the second confirm waits for the first attempt."""
    strict_stripe.reset()
    payment_id = _payment(server, _payer(server))
    method = card(localstripe)
    database_url = server.engine.url.render_as_string(hide_password=False)
    racer = create_app(
        {
            **base_config(database_url, tmp_path),
            "STRIPE_API_BASE": localstripe,
            "STRIPE_WEBHOOK_SECRET": SECRET,
        }
    )

    def confirm(_: int) -> str:
        with racer.app_context():
            return str(payment_checkout.confirm_payment(payment_id, payment_method=method).status)

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(confirm, range(20)))
    with racer.app_context():
        from marketplace.extensions import db

        db.engine.dispose()
    assert statuses == ["succeeded"] * 20
    created = [
        params
        for params in strict_stripe.calls("POST", "/v1/payment_intents")
        if (params.get("metadata") or {}).get("payment_id") == str(payment_id)
    ]
    assert len(created) == 1
    payment, memberships, receipts = _effects(server, payment_id)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert (memberships, receipts) == (1, 1)

"""sync_payment and the card flow against the real localstripe: paid, declined, 3-D Secure,
mismatches flagged, Stripe unreachable or silent."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.payments import checkout as payment_checkout
from marketplace.payments import services
from marketplace.payments import sync as payment_sync
from marketplace.payments.gateway import EXTENSION_KEY
from marketplace.payments.models import Payment, PaymentProfile, PaymentStatus
from marketplace.tasks import run_due
from tests.live_server import free_port
from tests.payments.conftest import DECLINED, THREE_D_SECURE, card, reload, stripe_api


def _checkout(app, payment_id: int, payer_id: int) -> str:
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        user = db.session.get(User, payer_id)
        info = payment_checkout.prepare_card_setup(payment, user=user)
        db.session.commit()
        return info.client_secret or ""


def test_a_paid_card_is_fulfilled_once_with_one_receipt(
    stripe_app, localstripe, new_payment, payer, fulfilled, outbox
):
    payment_id = new_payment(amount=4000)
    secret = _checkout(stripe_app, payment_id, payer.id)
    assert secret
    with stripe_app.app_context():
        profile = db.session.scalar(
            select(PaymentProfile).where(PaymentProfile.user_id == payer.id)
        )
        assert profile is not None
        assert profile.stripe_customer_id.startswith("cus_")
        payment = payment_checkout.confirm_payment(payment_id, payment_method=card(localstripe))
        assert payment.status == PaymentStatus.SUCCEEDED
        # The browser return, the webhook and the reconciliation all sync again: nothing more.
        payment_sync.sync_payment(payment_id)
        payment_sync.sync_payment(payment_id)
    payment = reload(stripe_app, payment_id)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.stripe_payment_intent_id.startswith("pi_")
    assert payment.stripe_charge_id.startswith("ch_")
    # Settled in EUR by the strict Stripe: 1.5 % + 0.25 € of fee.
    assert (payment.settled_amount, payment.stripe_fee, payment.settled_net) == (4000, 85, 3915)
    assert payment.settled_currency == "eur"
    assert payment.succeeded_at is not None
    assert payment.fulfilled_at is not None
    assert fulfilled == [payment_id]
    receipts = [m for m in outbox(to="payer@example.org") if m.template == "payments/receipt"]
    assert len(receipts) == 1
    assert f"/payments/{payment_id}" in receipts[0].body_text
    assert "€40.00" in receipts[0].body_text  # the payer reads English


def test_the_payer_sees_the_payment_page_and_others_get_404(
    stripe_app, localstripe, new_payment, payer, fulfilled, client, login, create_user
):
    payment_id = new_payment(amount=1500)
    with stripe_app.app_context():
        payment_checkout.confirm_payment(payment_id, payment_method=card(localstripe))
    login(client, payer)
    page = client.get(f"/payments/{payment_id}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert b'data-status="succeeded"' in page.data
    other = create_user("other@example.org", status="verified")
    other_client = stripe_app.test_client()
    login(other_client, other)
    assert other_client.get(f"/payments/{payment_id}").status_code == 404


def test_a_declined_card_fails_and_fulfils_nothing(
    stripe_app, localstripe, new_payment, fulfilled, outbox
):
    payment_id = new_payment()
    with stripe_app.app_context(), pytest.raises(services.CardRefused) as refused:
        payment_checkout.confirm_payment(payment_id, payment_method=card(localstripe, DECLINED))
    assert refused.value.message == "Votre carte a été refusée."  # translated from the code
    payment = reload(stripe_app, payment_id)
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_message
    assert fulfilled == []
    assert [m for m in outbox() if m.template == "payments/receipt"] == []


def test_a_failed_payment_can_be_paid_with_another_card(
    stripe_app, localstripe, new_payment, fulfilled
):
    payment_id = new_payment()
    with stripe_app.app_context():
        with pytest.raises(services.CardRefused):
            payment_checkout.confirm_payment(payment_id, payment_method=card(localstripe, DECLINED))
        payment = payment_checkout.confirm_payment(payment_id, payment_method=card(localstripe))
        assert payment.status == PaymentStatus.SUCCEEDED
    assert fulfilled == [payment_id]


def test_a_3d_secure_card_requires_action_and_is_not_fulfilled(
    stripe_app, localstripe, new_payment, fulfilled
):
    payment_id = new_payment()
    with stripe_app.app_context():
        payment = payment_checkout.confirm_payment(
            payment_id, payment_method=card(localstripe, THREE_D_SECURE)
        )
        assert payment.status == PaymentStatus.REQUIRES_ACTION
        assert payment_sync.payment_intent_client_secret(payment)
    assert reload(stripe_app, payment_id).fulfilled_at is None
    assert fulfilled == []


def _intent(localstripe: str, *, amount: int, currency: str, payment_id: int) -> str:
    intent = stripe_api(
        localstripe,
        "POST",
        "/v1/payment_intents",
        payment_method_types=["card"],
        amount=amount,
        currency=currency,
        payment_method=card(localstripe),
        confirm="true",
        **{"metadata[payment_id]": str(payment_id)},
    )
    assert intent["status"] == "succeeded"
    return intent["id"]


@pytest.mark.parametrize(
    ("amount", "currency", "flag"),
    [(5000, "eur", "amount_mismatch"), (4000, "usd", "currency_mismatch")],
)
def test_a_mismatch_is_flagged_not_fulfilled(
    stripe_app, localstripe, new_payment, fulfilled, amount, currency, flag
):
    payment_id = new_payment(amount=4000, currency="eur")
    intent_id = _intent(localstripe, amount=amount, currency=currency, payment_id=payment_id)
    with stripe_app.app_context():
        db.session.get(Payment, payment_id).stripe_payment_intent_id = intent_id
        db.session.commit()
        payment_sync.sync_payment(payment_id)
    payment = reload(stripe_app, payment_id)
    assert payment.status == PaymentStatus.PENDING
    assert payment.flag == flag
    assert intent_id in payment.flag_detail
    assert payment.fulfilled_at is None
    assert fulfilled == []


def test_an_intent_of_another_payment_is_flagged(stripe_app, localstripe, new_payment, fulfilled):
    mine = new_payment()
    theirs = new_payment()
    intent_id = _intent(localstripe, amount=4000, currency="eur", payment_id=theirs)
    with stripe_app.app_context():
        db.session.get(Payment, mine).stripe_payment_intent_id = intent_id
        db.session.commit()
        payment_sync.sync_payment(mine)
    payment = reload(stripe_app, mine)
    assert payment.flag == "unknown_intent"
    assert payment.status == PaymentStatus.PENDING
    assert fulfilled == []


@pytest.fixture
def closed_port() -> int:
    return free_port()


@pytest.fixture
def silent_server():
    """A server that accepts connections and never answers (Stripe too slow)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    for connection in held:
        connection.close()
    sock.close()


@pytest.mark.parametrize("target", ["closed_port", "silent_server"])
def test_stripe_unreachable_or_silent_answers_clearly_and_fulfils_nothing(
    app, request, new_payment, fulfilled, target
):
    port = request.getfixturevalue(target)
    payment_id = new_payment()
    previous = app.config["STRIPE_API_BASE"]
    app.config["STRIPE_API_BASE"] = f"http://127.0.0.1:{port}"
    app.extensions.pop(EXTENSION_KEY, None)
    try:
        with app.app_context(), force_locale("en"):
            started = time.monotonic()
            with pytest.raises(services.PaymentServiceUnavailable) as error:
                payment_checkout.confirm_payment(payment_id, payment_method="pm_card_visa")
            assert time.monotonic() - started < 15
            assert error.value.status == 503
            assert "unreachable" in str(error.value.message)
    finally:
        app.config["STRIPE_API_BASE"] = previous
        app.extensions.pop(EXTENSION_KEY, None)
    payment = reload(app, payment_id)
    assert payment.status == PaymentStatus.PENDING
    assert payment.fulfilled_at is None
    assert fulfilled == []


def test_run_due_resyncs_payments_pending_for_an_hour(
    stripe_app, localstripe, new_payment, fulfilled
):
    payment_id = new_payment()
    intent_id = _intent(localstripe, amount=4000, currency="eur", payment_id=payment_id)
    with stripe_app.app_context():
        payment = db.session.get(Payment, payment_id)
        payment.stripe_payment_intent_id = intent_id
        db.session.commit()
        # A fresh pending payment is left alone (its page may still be open).
        run_due(echo=lambda line: None)
        assert db.session.get(Payment, payment_id).status == PaymentStatus.PENDING
        later = payment.created_at + services.PENDING_RESYNC_AFTER * 2
        lines = run_due(later, echo=lambda line: None)
    assert any(
        "payments-pending: 1 pending payment(s) re-synced, 1 changed" in line for line in lines
    )
    assert reload(stripe_app, payment_id).status == PaymentStatus.SUCCEEDED
    assert fulfilled == [payment_id]

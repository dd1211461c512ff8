"""The exceptions queue: each kind made for real (localstripe and signed webhook events),
listed with its remedy, and resolved by it."""

from __future__ import annotations

import uuid
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from marketplace.audit import AuditLog
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.payments import checkout as payment_checkout
from marketplace.payments import gateway
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus, Refund
from marketplace.treasury import review_queue as exceptions
from tests.payments import conftest as payment_fixtures
from tests.payments.conftest import THREE_D_SECURE, card, event, reload, sign, stripe_api

# The payment fixtures, shared with tests/payments (localstripe, payments, signed events).
new_payment = payment_fixtures.new_payment
payer = payment_fixtures.payer
stripe_app = payment_fixtures.stripe_app
webhook_secret = payment_fixtures.webhook_secret

WEBHOOK = "/payments/stripe/webhook"
QUEUE = "/treasury/exceptions"


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: dict[str, dict[str, str]] = {}

    def handle_starttag(self, tag, attrs) -> None:
        values = {name: value or "" for name, value in attrs}
        if "id" in values:
            self.elements[values["id"]] = values


def queue_page(client) -> tuple[str, dict[str, dict[str, str]]]:
    response = client.get(QUEUE)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    parser = _Ids()
    parser.feed(html)
    return html, parser.elements


@pytest.fixture
def treasurer_client(client, login, treasurer):
    return login(client, treasurer)


def deliver(client, secret: str, kind: str, obj: dict) -> None:
    body = event(kind, obj)
    response = client.post(
        WEBHOOK,
        data=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": sign(body, secret)},
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def stripe_intent(localstripe: str, *, amount: int, currency: str = "eur", **metadata) -> dict:
    return stripe_api(
        localstripe,
        "POST",
        "/v1/payment_intents",
        payment_method_types=["card"],
        amount=amount,
        currency=currency,
        payment_method=card(localstripe),
        confirm="true",
        **{f"metadata[{key}]": str(value) for key, value in metadata.items()},
    )


def attach(app, payment_id: int, intent_id: str, **values) -> None:
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        payment.stripe_payment_intent_id = intent_id
        for name, value in values.items():
            setattr(payment, name, value)
        db.session.commit()


def audit_rows(app, action: str, payment_id: int | None = None) -> list[AuditLog]:
    with app.app_context():
        query = select(AuditLog).where(AuditLog.action == action)
        if payment_id is not None:
            query = query.where(AuditLog.object_id == payment_id)
        return list(db.session.scalars(query))


# ---------------------------------------------------------------- mismatches


@pytest.mark.parametrize(
    ("amount", "currency", "flag"),
    [(5000, "eur", "amount_mismatch"), (4000, "usd", "currency_mismatch")],
)
def test_a_mismatch_is_listed_then_marked_reviewed_with_a_note(
    stripe_app,
    localstripe,
    treasurer_client,
    new_payment,
    webhook_secret,
    amount,
    currency,
    flag,
):
    payment_id = new_payment(amount=4000, currency="eur")
    intent = stripe_intent(localstripe, amount=amount, currency=currency, payment_id=payment_id)
    attach(stripe_app, payment_id, intent["id"])
    deliver(treasurer_client, webhook_secret, "payment_intent.succeeded", intent)
    assert reload(stripe_app, payment_id).flag == flag

    html, found = queue_page(treasurer_client)
    item = found[f"exception-mismatch-{payment_id}"]
    assert item["data-flag"] == flag
    assert found["mismatches"]["data-count"] == "1"
    # The intent is detached from the payment (the payer's genuine attempt can go on) and
    # listed beside it, linked to Stripe's dashboard.
    assert f"https://dashboard.stripe.com/test/payments/{intent['id']}" in html
    assert reload(stripe_app, payment_id).stripe_payment_intent_id is None

    # Without a note nothing changes.
    response = treasurer_client.post(
        f"{QUEUE}/{payment_id}/review", data={"kind": "mismatch", "note": " "}
    )
    assert response.status_code == 302
    assert reload(stripe_app, payment_id).flag == flag
    assert audit_rows(stripe_app, exceptions.FLAG_REVIEWED_ACTION, payment_id) == []

    response = treasurer_client.post(
        f"{QUEUE}/{payment_id}/review",
        data={"kind": "mismatch", "note": "Montant corrigé avec le payeur"},
    )
    assert response.status_code == 302
    payment = reload(stripe_app, payment_id)
    assert payment.flag is None
    assert payment.flag_detail is None
    [entry] = audit_rows(stripe_app, exceptions.FLAG_REVIEWED_ACTION, payment_id)
    assert entry.details["note"] == "Montant corrigé avec le payeur"
    assert entry.details["flag"] == flag
    assert intent["id"] in entry.details["flag_detail"]
    _html, found = queue_page(treasurer_client)
    assert f"exception-mismatch-{payment_id}" not in found
    # Reviewing again: nothing left to review, said plainly.
    again = treasurer_client.post(
        f"{QUEUE}/{payment_id}/review", data={"kind": "mismatch", "note": "encore"}
    )
    assert again.status_code == 302
    assert len(audit_rows(stripe_app, exceptions.FLAG_REVIEWED_ACTION, payment_id)) == 1


# ---------------------------------------------------------------- disputes


def test_a_dispute_is_listed_counted_and_resynced(
    stripe_app, localstripe, treasurer_client, new_payment, webhook_secret, strict_stripe
):
    payment_id = new_payment()
    intent = stripe_intent(localstripe, amount=4000, payment_id=payment_id)
    attach(stripe_app, payment_id, intent["id"])
    deliver(treasurer_client, webhook_secret, "payment_intent.succeeded", intent)
    assert reload(stripe_app, payment_id).status == PaymentStatus.SUCCEEDED
    dispute = strict_stripe.open_dispute(intent["latest_charge"], reason="fraudulent")
    deliver(treasurer_client, webhook_secret, "charge.dispute.created", dispute)
    assert reload(stripe_app, payment_id).status == PaymentStatus.DISPUTED

    _html, found = queue_page(treasurer_client)
    assert found[f"exception-dispute-{payment_id}"]["data-flag"] == "dispute"
    assert f"refund-page-{payment_id}" in found
    dashboard = treasurer_client.get("/treasury/").get_data(as_text=True)
    assert 'id="disputes-open" data-value="1"' in dashboard

    response = treasurer_client.post(f"{QUEUE}/{payment_id}/resync")
    assert response.status_code == 302
    assert reload(stripe_app, payment_id).status == PaymentStatus.DISPUTED
    assert len(audit_rows(stripe_app, exceptions.RESYNC_ACTION, payment_id)) == 1


# ---------------------------------------------------------------- stuck payments


def test_a_payment_stuck_for_an_hour_is_listed_resynced_then_reviewed(
    stripe_app, localstripe, treasurer_client, new_payment
):

    stuck_id = new_payment()
    with stripe_app.app_context():
        payment = payment_checkout.confirm_payment(
            stuck_id, payment_method=card(localstripe, THREE_D_SECURE)
        )
        assert payment.status == PaymentStatus.REQUIRES_ACTION
    attach(stripe_app, stuck_id, reload(stripe_app, stuck_id).stripe_payment_intent_id,
           created_at=utcnow() - timedelta(hours=2))  # fmt: skip
    recent_id = new_payment()
    with stripe_app.app_context():
        payment_checkout.confirm_payment(
            recent_id, payment_method=card(localstripe, THREE_D_SECURE)
        )
    # An abandoned checkout (no PaymentIntent) moved no money: not an exception.
    abandoned_id = new_payment()
    attach(stripe_app, abandoned_id, None, created_at=utcnow() - timedelta(hours=5))

    _html, found = queue_page(treasurer_client)
    assert f"exception-stuck-{stuck_id}" in found
    assert f"exception-stuck-{recent_id}" not in found
    assert f"exception-stuck-{abandoned_id}" not in found

    # Stripe still waits for 3-D Secure: the re-sync keeps it where it is.
    assert treasurer_client.post(f"{QUEUE}/{stuck_id}/resync").status_code == 302
    assert reload(stripe_app, stuck_id).status == PaymentStatus.REQUIRES_ACTION
    _html, found = queue_page(treasurer_client)
    assert f"exception-stuck-{stuck_id}" in found

    response = treasurer_client.post(
        f"{QUEUE}/{stuck_id}/review", data={"kind": "stuck", "note": "Le payeur a abandonné"}
    )
    assert response.status_code == 302
    [entry] = audit_rows(stripe_app, exceptions.STUCK_REVIEWED_ACTION, stuck_id)
    assert entry.details["note"] == "Le payeur a abandonné"
    _html, found = queue_page(treasurer_client)
    assert f"exception-stuck-{stuck_id}" not in found
    assert reload(stripe_app, stuck_id).status == PaymentStatus.REQUIRES_ACTION


# ---------------------------------------------------------------- failed refunds


def test_a_refund_stripe_refuses_is_listed_with_the_refund_page(
    stripe_app, localstripe, treasurer_client, new_payment
):
    payment_id = new_payment()
    # The ledger says paid, but Stripe has no such PaymentIntent: the refund fails.
    attach(
        stripe_app,
        payment_id,
        f"pi_gone{uuid.uuid4().hex[:16]}",
        status=PaymentStatus.SUCCEEDED,
        succeeded_at=utcnow(),
    )
    response = treasurer_client.post(
        f"/treasury/payments/{payment_id}/refunds",
        data={"amount": "10.00", "reason": "Erreur de tarif", "confirm": "1"},
    )
    assert response.status_code == 302
    with stripe_app.app_context():
        [refund] = db.session.scalars(select(Refund).where(Refund.payment_id == payment_id))
        assert refund.status == "failed"
    assert reload(stripe_app, payment_id).flag == "refund_failed"

    _html, found = queue_page(treasurer_client)
    assert f"exception-refund_failed-{payment_id}" in found
    assert f"failed-refund-{refund.id}" in found
    assert found[f"refund-page-{payment_id}"]["href"] == (
        f"/treasury/payments/{payment_id}#refunds-heading"
    )


# ---------------------------------------------------------------- checks against Stripe


def test_the_check_finds_rows_stripe_does_not_know_and_intents_the_ledger_lacks(
    stripe_app, localstripe, treasurer_client, new_payment
):
    known_id = new_payment()
    known = stripe_intent(localstripe, amount=4000, payment_id=known_id)
    attach(stripe_app, known_id, known["id"])
    ghost_id = new_payment()
    ghost_intent = f"pi_ghost{uuid.uuid4().hex[:16]}"
    attach(stripe_app, ghost_id, ghost_intent)
    stray = stripe_intent(localstripe, amount=1234, note="paid outside the app")

    # Nothing is asked of Stripe before the treasurer asks.
    _html, found = queue_page(treasurer_client)
    assert f"exception-missing_at_stripe-{ghost_id}" not in found
    assert f"intent-{stray['id']}" not in found

    response = treasurer_client.post(f"{QUEUE}/check")
    assert response.status_code == 302
    assert reload(stripe_app, ghost_id).flag == exceptions.MISSING_FLAG
    assert reload(stripe_app, known_id).flag is None
    [check] = audit_rows(stripe_app, exceptions.CHECK_ACTION)
    assert check.details["missing"] == [ghost_id]

    html, found = queue_page(treasurer_client)
    assert f"exception-missing_at_stripe-{ghost_id}" in found
    assert "last-check" in found
    assert f"intent-{stray['id']}" in found
    assert f"intent-{known['id']}" not in found
    assert f"https://dashboard.stripe.com/test/payments/{stray['id']}" in html

    # The stray intent is reviewed with a note: it leaves the queue.
    response = treasurer_client.post(
        f"{QUEUE}/intents/{stray['id']}/review", data={"note": "Don versé à la main"}
    )
    assert response.status_code == 302
    [entry] = audit_rows(stripe_app, exceptions.INTENT_REVIEWED_ACTION)
    assert entry.details == {"intent": stray["id"], "note": "Don versé à la main"}
    _html, found = queue_page(treasurer_client)
    assert f"intent-{stray['id']}" not in found
    # A later check lists it again, but it stays reviewed.
    assert treasurer_client.post(f"{QUEUE}/check").status_code == 302
    _html, found = queue_page(treasurer_client)
    assert f"intent-{stray['id']}" not in found
    assert f"exception-missing_at_stripe-{ghost_id}" in found

    # A re-sync of the ghost fails clearly and changes nothing.
    assert treasurer_client.post(f"{QUEUE}/{ghost_id}/resync").status_code == 302
    assert reload(stripe_app, ghost_id).flag == exceptions.MISSING_FLAG


def test_an_intent_the_ledger_learns_later_leaves_the_queue(
    stripe_app, localstripe, treasurer_client, new_payment
):
    stray = stripe_intent(localstripe, amount=4000)
    assert treasurer_client.post(f"{QUEUE}/check").status_code == 302
    _html, found = queue_page(treasurer_client)
    assert f"intent-{stray['id']}" in found
    attach(stripe_app, new_payment(), stray["id"])
    _html, found = queue_page(treasurer_client)
    assert f"intent-{stray['id']}" not in found


def test_a_row_stripe_knows_again_loses_its_flag_at_the_next_check(
    stripe_app, localstripe, treasurer_client, new_payment
):
    payment_id = new_payment()
    intent = stripe_intent(localstripe, amount=4000, payment_id=payment_id)
    attach(stripe_app, payment_id, intent["id"], flag=exceptions.MISSING_FLAG)
    assert treasurer_client.post(f"{QUEUE}/check").status_code == 302
    assert reload(stripe_app, payment_id).flag is None


def test_the_list_of_payment_intents_filters_by_creation(stripe_app, localstripe):
    before = stripe_intent(localstripe, amount=1000)
    with stripe_app.app_context():
        client = gateway.get_gateway()
        everything = client.list_payment_intents(0)
        assert before["id"] in {intent.id for intent in everything}
        assert all(isinstance(intent, gateway.ListedPaymentIntent) for intent in everything)
        created = [intent.created for intent in everything]
        assert created == sorted(created, reverse=True)
        assert client.list_payment_intents(before["created"] + 3600) == []


def test_stripe_unreachable_during_a_check_changes_nothing(
    app, treasurer_client, new_payment, closed_stripe
):
    payment_id = new_payment()
    attach(app, payment_id, "pi_whatever")
    response = treasurer_client.post(f"{QUEUE}/check")
    assert response.status_code == 302
    assert reload(app, payment_id).flag is None
    assert audit_rows(app, exceptions.CHECK_ACTION) == []


@pytest.fixture
def closed_stripe(app):
    """Stripe pointed at a port nobody listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    saved = app.config["STRIPE_API_BASE"]
    app.config["STRIPE_API_BASE"] = f"http://127.0.0.1:{port}"
    app.extensions.pop(gateway.EXTENSION_KEY, None)
    try:
        yield
    finally:
        app.config["STRIPE_API_BASE"] = saved
        app.extensions.pop(gateway.EXTENSION_KEY, None)


def test_the_page_never_calls_stripe(app, treasurer_client, new_payment, closed_stripe):
    payment_id = new_payment()
    attach(app, payment_id, "pi_whatever", flag="amount_mismatch", flag_detail="x")
    _html, found = queue_page(treasurer_client)
    assert f"exception-mismatch-{payment_id}" in found


# ---------------------------------------------------------------- access and budget


@pytest.mark.parametrize("roles", [(), ("moderator",)])
def test_only_the_treasury_acts_on_the_queue(app, client, login, create_user, new_payment, roles):
    payment_id = new_payment()
    attach(app, payment_id, "pi_x", flag="amount_mismatch", flag_detail="x")
    login(client, create_user(roles=roles, alumni=not roles, status="verified"))
    for url, data in (
        (f"{QUEUE}/{payment_id}/review", {"kind": "mismatch", "note": "n"}),
        (f"{QUEUE}/{payment_id}/resync", {}),
        (f"{QUEUE}/check", {}),
        (f"{QUEUE}/intents/pi_x/review", {"note": "n"}),
    ):
        assert client.post(url, data=data).status_code == 403, url
    assert reload(app, payment_id).flag == "amount_mismatch"


def test_an_unknown_payment_is_404(treasurer_client):
    assert treasurer_client.post(f"{QUEUE}/999999/resync").status_code == 404
    response = treasurer_client.post(
        f"{QUEUE}/999999/review", data={"kind": "mismatch", "note": "n"}
    )
    assert response.status_code == 404


def _flagged(app, count: int) -> None:
    with app.app_context():
        for number in range(count):
            payment = Payment(
                kind=PaymentKind.MEMBERSHIP,
                status=PaymentStatus.SUCCEEDED,
                amount=4000,
                currency="EUR",
                payer_name="Flag",
                subject={},
                description="flagged",
                stripe_payment_intent_id=f"pi_flag_{uuid.uuid4().hex}",
                flag=["amount_mismatch", "dispute", "refund_failed", "missing_at_stripe"][
                    number % 4
                ],
                flag_detail="detail",
            )
            payment.refunds = [Refund(amount=100, reason="r", status="failed")]
            db.session.add(payment)
            stuck = Payment(
                kind=PaymentKind.FEATURED,
                status=PaymentStatus.PENDING,
                amount=500,
                currency="EUR",
                payer_name="Stuck",
                subject={},
                description="stuck",
                stripe_payment_intent_id=f"pi_stuck_{uuid.uuid4().hex}",
                created_at=utcnow() - timedelta(hours=3),
            )
            db.session.add(stuck)
        db.session.commit()


def test_the_queue_runs_the_same_queries_whatever_its_length(app, treasurer_client, count_selects):
    _flagged(app, 4)
    with count_selects() as few:
        queue_page(treasurer_client)
    _flagged(app, 60)
    with count_selects() as many:
        _html, found = queue_page(treasurer_client)
    assert found["mismatches"]["data-count"] == "16"
    assert found["stuck"]["data-count"] == "64"
    assert len(few) == len(many)

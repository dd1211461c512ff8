"""Payouts: fetched from Stripe on ``payout.paid`` and by the due task, matched to the ledger.

localstripe creates and returns payouts and balance transactions but cannot say which
transactions a payout contains, nor report fees: the strict Stripe in front of it
(tests/strict_stripe.py) answers that call with localstripe's own transactions, settled in EUR
with Stripe's fees. What plain localstripe does not support is checked against it directly.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.payments import gateway
from marketplace.payments import refunds as payment_refunds
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus
from marketplace.treasury import payouts
from marketplace.treasury.models import Payout, PayoutLine
from tests.payments.conftest import card, event, sign, stripe_api


def _pay(app, base: str, amount: int, payer: str = "Paula Payout") -> tuple[int, str]:
    """A succeeded payment whose charge exists in localstripe: (payment id, charge id)."""
    with app.app_context():
        client = gateway.get_gateway()
        key = uuid.uuid4().hex[:10]
        customer = client.create_customer(email=None, name=payer, idempotency_key=f"c-{key}")
        intent = client.create_payment_intent(
            amount=amount,
            currency="eur",
            customer=customer,
            payment_method=card(base),
            idempotency_key=f"pi-{key}",
        )
        assert intent.status == "succeeded"
        payment = Payment(
            kind=PaymentKind.MEMBERSHIP,
            status=PaymentStatus.SUCCEEDED,
            amount=amount,
            currency="eur",
            payer_name=payer,
            subject={},
            description="Cotisation",
            stripe_customer_id=customer,
            stripe_payment_intent_id=intent.id,
            stripe_charge_id=intent.latest_charge,
            succeeded_at=datetime.now(UTC),
        )
        db.session.add(payment)
        db.session.commit()
        return payment.id, intent.latest_charge


def _transactions(app) -> dict[str, str]:
    """localstripe's balance transactions: source (ch_ / re_) → transaction id."""
    with app.app_context():
        return {item.source: item.id for item in gateway.get_gateway().list_balance_transactions()}


def _paid_payout(localstripe: str, amount: int) -> dict:
    return stripe_api(
        localstripe, "POST", "/v1/payouts", amount=amount, currency="eur", status="paid"
    )


def _deliver(client, app, obj: dict, event_id: str | None = None):
    body = event("payout.paid", obj, event_id)
    signature = sign(body, app.config["STRIPE_WEBHOOK_SECRET"])
    return client.post(
        "/payments/stripe/webhook",
        data=body,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )


def _rows(app, stripe_payout_id: str) -> tuple[Payout, list[tuple]]:
    with app.app_context():
        payout = db.session.scalar(
            select(Payout).where(Payout.stripe_payout_id == stripe_payout_id)
        )
        assert payout is not None
        lines = [
            (
                line.type,
                line.source_id,
                line.amount,
                line.fee,
                line.net,
                line.payment_id,
                line.refund_id,
            )
            for line in payout.lines
        ]
        db.session.expunge(payout)
        return payout, lines


@pytest.fixture
def ledger_in_stripe(app, stripe_payouts):
    """Two payments and a partial refund, all real in localstripe, with their transactions."""
    first, first_charge = _pay(app, stripe_payouts.base, 4000)
    second, second_charge = _pay(app, stripe_payouts.base, 1500)
    with app.app_context():
        refund = payment_refunds.refund_payment(second, amount=500, reason="Erreur", actor=None)
        refund_id, stripe_refund = refund.id, refund.stripe_refund_id
    transactions = _transactions(app)
    return {
        "payments": (first, second),
        "refund": (refund_id, stripe_refund),
        "transactions": [
            transactions[first_charge],
            transactions[second_charge],
            transactions[stripe_refund],
        ],
        # Stripe's fees (1.5 % + 0.25 €), which the strict Stripe reports and localstripe not.
        "net": (4000 - 85) + (1500 - 48) - 500,
    }


def test_localstripe_gives_payouts_and_transactions_but_not_a_payouts_content(
    app, stripe_payouts, localstripe_server
):
    """What the gateway reads through the strict Stripe, and what plain localstripe lacks."""
    payment_id, charge = _pay(app, stripe_payouts.base, 2500)
    created = _paid_payout(stripe_payouts.base, 2500)
    with app.app_context():
        client = gateway.get_gateway()
        info = client.retrieve_payout(created["id"])
        assert (info.id, info.amount, info.currency, info.status) == (
            created["id"],
            2500,
            "eur",
            "paid",
        )
        assert info.arrival_date == created["arrival_date"]
        every = client.list_balance_transactions()
        mine = [item for item in every if item.source == charge]
        assert [(item.type, item.amount, item.fee, item.net) for item in mine] == [
            ("charge", 2500, 63, 2437)
        ]
        assert created["id"] in {item.id for item in client.list_payouts(created_since=0)}
    # The documented limit: plain localstripe refuses the payout filter.
    app.config["STRIPE_API_BASE"] = localstripe_server
    app.extensions.pop(gateway.EXTENSION_KEY, None)
    with app.app_context(), pytest.raises(gateway.GatewayError):
        gateway.get_gateway().list_balance_transactions(payout=created["id"])


def test_a_paid_payout_is_matched_to_payments_and_refunds(
    app, client, stripe_payouts, ledger_in_stripe
):
    created = _paid_payout(stripe_payouts.base, ledger_in_stripe["net"])
    stripe_payouts.contains(created["id"], ledger_in_stripe["transactions"])
    response = _deliver(client, app, created)
    assert response.status_code == 200, response.get_data(as_text=True)

    payout, lines = _rows(app, created["id"])
    first, second = ledger_in_stripe["payments"]
    refund_id, stripe_refund = ledger_in_stripe["refund"]
    assert (payout.amount, payout.lines_total, payout.flag, payout.status) == (
        ledger_in_stripe["net"],
        ledger_in_stripe["net"],
        None,
        "paid",
    )
    assert payout.arrival_date == datetime.fromtimestamp(created["arrival_date"], tz=UTC)
    by_type = sorted((line[0], line[2], line[3], line[4], line[5], line[6]) for line in lines)
    assert by_type == [
        ("charge", 1500, 48, 1452, second, None),
        ("charge", 4000, 85, 3915, first, None),
        ("refund", -500, 0, -500, second, refund_id),
    ]
    assert stripe_refund in {line[1] for line in lines}


def test_the_same_payout_twice_gives_the_same_rows(app, client, stripe_payouts, ledger_in_stripe):
    created = _paid_payout(stripe_payouts.base, ledger_in_stripe["net"])
    stripe_payouts.contains(created["id"], ledger_in_stripe["transactions"])
    event_id = f"evt_{uuid.uuid4().hex[:20]}"
    for _ in range(2):  # the same event delivered twice
        assert _deliver(client, app, created, event_id).status_code == 200
    _payout, first_lines = _rows(app, created["id"])
    # Another event about the same payout (Stripe may send payout.paid again): no new row.
    assert _deliver(client, app, created).status_code == 200
    with app.app_context():
        assert payouts.sync_payout(created["id"]).changed is False
        db.session.commit()
        assert (
            db.session.scalar(
                select(func.count(Payout.id)).where(Payout.stripe_payout_id == created["id"])
            )
            == 1
        )
        payout_id = db.session.scalar(
            select(Payout.id).where(Payout.stripe_payout_id == created["id"])
        )
        assert (
            db.session.scalar(
                select(func.count(PayoutLine.id)).where(PayoutLine.payout_id == payout_id)
            )
            == 3
        )
    _payout, again = _rows(app, created["id"])
    assert again == first_lines


def test_a_payout_that_does_not_add_up_is_flagged(
    app, client, login, create_user, stripe_payouts, ledger_in_stripe
):
    created = _paid_payout(stripe_payouts.base, ledger_in_stripe["net"] + 100)
    stripe_payouts.contains(created["id"], ledger_in_stripe["transactions"])
    assert _deliver(client, app, created).status_code == 200
    payout, _lines = _rows(app, created["id"])
    assert payout.flag == payouts.FLAG_AMOUNT
    assert payout.lines_total == ledger_in_stripe["net"]
    assert str(ledger_in_stripe["net"]) in payout.flag_detail

    login(client, create_user(roles=("treasurer",)))
    page = client.get(f"/treasury/payouts/{payout.id}").get_data(as_text=True)
    assert f'data-flag="{payouts.FLAG_AMOUNT}"' in page
    assert 'id="payout-problem"' in page
    flagged = client.get("/treasury/payouts?flagged=1").get_data(as_text=True)
    assert f'id="payout-{payout.id}"' in flagged


def test_a_charge_the_ledger_does_not_know_is_flagged(app, client, stripe_payouts):
    _payment_id, charge = _pay(app, stripe_payouts.base, 3000)
    with app.app_context():
        # The ledger loses the charge (a row Stripe knows and we do not).
        payment = db.session.scalar(select(Payment).where(Payment.stripe_charge_id == charge))
        payment.stripe_charge_id = None
        db.session.commit()
    created = _paid_payout(stripe_payouts.base, 3000 - 70)
    stripe_payouts.contains(created["id"], [_transactions(app)[charge]])
    assert _deliver(client, app, created).status_code == 200
    payout, lines = _rows(app, created["id"])
    assert payout.flag == payouts.FLAG_UNMATCHED
    assert charge in payout.flag_detail
    assert lines[0][5] is None


def test_without_the_stand_in_the_payout_is_kept_and_flagged(
    app, client, stripe_payouts, localstripe_server
):
    """Plain localstripe: the payout is stored, its lines marked as unavailable, answer 200."""
    created = _paid_payout(stripe_payouts.base, 1200)
    app.config["STRIPE_API_BASE"] = localstripe_server
    app.extensions.pop(gateway.EXTENSION_KEY, None)
    assert _deliver(client, app, created).status_code == 200
    payout, lines = _rows(app, created["id"])
    assert (payout.flag, payout.amount, lines) == (payouts.FLAG_LINES_UNAVAILABLE, 1200, [])


def test_an_unknown_payout_is_ignored(app, client, stripe_payouts):
    obj = {"id": "po_doesnotexist", "object": "payout", "amount": 10, "currency": "eur"}
    assert _deliver(client, app, obj).status_code == 200
    with app.app_context():
        assert (
            db.session.scalar(select(Payout.id).where(Payout.stripe_payout_id == "po_doesnotexist"))
            is None
        )


def test_an_unreachable_stripe_asks_for_a_retry(app, client, stripe_payouts):
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # nothing listens there
    app.extensions.pop(gateway.EXTENSION_KEY, None)
    obj = {"id": "po_unreachable", "object": "payout", "amount": 10, "currency": "eur"}
    assert _deliver(client, app, obj).status_code == 503


def test_the_due_task_fetches_payouts_the_webhook_missed(app, stripe_payouts, ledger_in_stripe):
    created = _paid_payout(stripe_payouts.base, ledger_in_stripe["net"])
    stripe_payouts.contains(created["id"], ledger_in_stripe["transactions"])
    with app.app_context():
        report = payouts.sync_recent_payouts(datetime.now(UTC))
        assert "fetched" in report
        payout = db.session.scalar(select(Payout).where(Payout.stripe_payout_id == created["id"]))
        assert (payout.flag, payout.lines_total) == (None, ledger_in_stripe["net"])
        # Complete payouts are not fetched again.
        again = payouts.sync_recent_payouts(datetime.now(UTC))
        assert ", 0 fetched" in again


def test_payout_pages_and_api(
    app, client, login, create_user, bearer, stripe_payouts, ledger_in_stripe, count_selects
):
    created = _paid_payout(stripe_payouts.base, ledger_in_stripe["net"])
    stripe_payouts.contains(created["id"], ledger_in_stripe["transactions"])
    with app.app_context():
        payouts.sync_payout(created["id"])
        db.session.commit()
    treasurer = create_user(roles=("treasurer",))
    login(client, treasurer)
    with count_selects() as few:
        listing = client.get("/treasury/payouts")
    assert listing.status_code == 200
    payout, _lines = _rows(app, created["id"])
    assert f'id="payout-{payout.id}"' in listing.get_data(as_text=True)
    for index in range(5):  # more payouts, same number of queries
        with app.app_context():
            payouts.record_payout(
                gateway.PayoutInfo(
                    f"po_more{index}", 100, "eur", "paid", 1_800_000_000, None, False
                ),
                [],
            )
            db.session.commit()
    with count_selects() as many:
        assert client.get("/treasury/payouts").status_code == 200
    assert len(many) == len(few)

    detail = client.get(f"/treasury/payouts/{payout.id}").get_data(as_text=True)
    first, _second = ledger_in_stripe["payments"]
    assert f'data-payment="{first}"' in detail
    assert 'data-unmatched="1"' not in detail

    api = client.get("/api/v1/treasury/payouts?page_size=100", headers=bearer(treasurer))
    assert api.status_code == 200
    row = next(item for item in api.get_json() if item["stripe_payout_id"] == created["id"])
    assert row["lines_total"] == ledger_in_stripe["net"]
    assert {line["payment_id"] for line in row["lines"]} == set(ledger_in_stripe["payments"])
    assert json.loads(api.headers["X-Pagination"])["total"] >= 6

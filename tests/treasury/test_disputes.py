"""Disputes to the end, payouts that fail, and the books agreeing to the cent (issue 12).

A membership paid by card and lost in a dispute (the benefit ends, the treasurer is told), a
partner plan paid in dollars and won in a dispute (the funds come back), a partial refund
made in Stripe's dashboard, a payout of everything and a payout the bank sends back: the
ledger, the dashboard, the exceptions queue and the FEC all follow the balance transactions
of the strict Stripe, and the Stripe clearing account (467) returns to zero.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from sqlalchemy import select

from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.models import Membership
from marketplace.payments import checkout, gateway
from marketplace.payments.models import Dispute, PaymentKind, PaymentStatus
from marketplace.treasury import dashboard
from marketplace.treasury.models import Payout
from tests.payments import conftest as payment_fixtures
from tests.payments.conftest import card, event, reload, sign, stripe_api
from tests.treasury.dashboard_support import elements
from tests.treasury.test_fec import cents, parse

WEBHOOK = "/payments/stripe/webhook"
# Fixtures of the payments suite.
stripe_app = payment_fixtures.stripe_app
new_payment = payment_fixtures.new_payment
payer = payment_fixtures.payer
fulfilled = payment_fixtures.fulfilled


def deliver(client, app, kind: str, obj: dict) -> None:
    body = event(kind, obj)
    response = client.post(
        WEBHOOK,
        data=body,
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": sign(body, app.config["STRIPE_WEBHOOK_SECRET"]),
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.fixture
def books(stripe_app, localstripe, strict_stripe, new_payment, payer, fulfilled, client):
    """The year's story, played against the strict Stripe; the ids of what it made."""
    app = stripe_app

    def pay(amount: int, currency: str, kind: PaymentKind) -> tuple[int, str]:
        payment_id = new_payment(amount=amount, currency=currency, kind=kind)
        with app.app_context():
            payment = checkout.confirm_payment(payment_id, payment_method=card(localstripe))
            assert payment.status == PaymentStatus.SUCCEEDED
            return payment_id, payment.stripe_charge_id

    member, member_charge = pay(4000, "eur", PaymentKind.MEMBERSHIP)
    dollars, dollars_charge = pay(5000, "usd", PaymentKind.PARTNER_PLAN)
    refunded, refunded_charge = pay(3000, "eur", PaymentKind.PARTNER_PLAN)
    with app.app_context():
        assert db.session.scalar(select(Membership).where(Membership.payment_id == member))
    # A partial refund made in Stripe's dashboard, told by webhook.
    intent = reload(app, refunded).stripe_payment_intent_id
    refund = stripe_api(localstripe, "POST", "/v1/refunds", payment_intent=intent, amount=1000)
    deliver(client, app, "refund.created", refund)
    # The member disputes and wins against us; the partner disputes and we win.
    lost = strict_stripe.open_dispute(member_charge, reason="fraudulent")
    deliver(client, app, "charge.dispute.created", lost)
    deliver(client, app, "charge.dispute.funds_withdrawn", lost)
    deliver(
        client, app, "charge.dispute.closed", strict_stripe.close_dispute(lost["id"], won=False)
    )
    won = strict_stripe.open_dispute(dollars_charge, reason="product_not_received")
    deliver(client, app, "charge.dispute.funds_withdrawn", won)
    won = strict_stripe.close_dispute(won["id"], won=True)
    deliver(client, app, "charge.dispute.funds_reinstated", won)
    deliver(client, app, "charge.dispute.closed", won)
    # Stripe pays everything out; then a second payout is sent back by the bank.
    with app.app_context():
        client_ = gateway.get_gateway()
        transactions = [
            client_.retrieve_charge(charge).settled
            for charge in (member_charge, dollars_charge, refunded_charge)
        ]
        transactions += [r.settled for r in client_.list_refunds(charge=refunded_charge)]
        for dispute_id in (lost["id"], won["id"]):
            transactions += list(client_.retrieve_dispute(dispute_id).transactions)
    net = sum(item.net for item in transactions)
    payout = strict_stripe.upstream_post("/v1/payouts", amount=net, currency="eur", status="paid")
    strict_stripe.contains(payout["id"], [item.id for item in transactions])
    deliver(client, app, "payout.paid", payout)
    bounced = strict_stripe.upstream_post("/v1/payouts", amount=2500, currency="eur", status="paid")
    strict_stripe.contains(bounced["id"], [])
    deliver(client, app, "payout.paid", bounced)
    deliver(client, app, "payout.failed", strict_stripe.fail_payout(bounced["id"]))
    return {
        "member": member,
        "dollars": dollars,
        "refunded": refunded,
        "net": net,
        "payout": payout["id"],
        "bounced": bounced["id"],
    }


def test_the_ledger_follows_the_disputes(stripe_app, books, fulfilled):
    member = reload(stripe_app, books["member"])
    assert (member.status, member.flag) == (PaymentStatus.DISPUTED, "dispute_lost")
    dollars = reload(stripe_app, books["dollars"])
    assert dollars.status == PaymentStatus.DISPUTED  # never backwards, even when won
    assert dollars.flag is None  # won: nothing left to do
    with stripe_app.app_context():
        rows = {
            row.payment_id: row for row in db.session.scalars(select(Dispute).order_by(Dispute.id))
        }
        lost, won = rows[books["member"]], rows[books["dollars"]]
        assert (lost.status, lost.withdrawn_amount, lost.withdrawn_fee) == ("lost", 4000, 1500)
        assert lost.reinstated_amount == 0
        assert (won.status, won.withdrawn_amount, won.reinstated_amount) == ("won", 4600, 4600)
        assert won.currency == "usd"
        # The lost dispute ended the membership it paid for.
        period = db.session.scalar(
            select(Membership).where(Membership.payment_id == books["member"])
        )
        assert period is None or period.ends_on <= utcnow().date()
        payout = db.session.scalar(select(Payout).where(Payout.stripe_payout_id == books["payout"]))
        assert (payout.amount, payout.lines_total, payout.flag) == (
            books["net"],
            books["net"],
            None,
        )
        bounced = db.session.scalar(
            select(Payout).where(Payout.stripe_payout_id == books["bounced"])
        )
        assert bounced.status == "failed"
        assert bounced.failed_at is not None


def test_the_queue_tells_the_treasurer(stripe_app, books, client, login, create_user):
    login(client, create_user("tresor@example.org", roles=("treasurer",), locale="en"))
    html = client.get("/treasury/exceptions").get_data(as_text=True)
    assert f'id="exception-dispute-{books["member"]}"' in html
    assert "The dispute was lost" in html
    assert f'id="exception-dispute-{books["dollars"]}"' not in html
    assert 'id="failed-payouts" data-count="1"' in html


def test_the_dashboard_books_disputes_and_their_fees(stripe_app, books, client, login, create_user):
    login(client, create_user("tresor2@example.org", roles=("treasurer",), locale="en"))
    today = utcnow().date()
    html = client.get(
        f"/treasury/?period=custom&start={today.replace(day=1)}&end={today}"
    ).get_data(as_text=True)
    found = elements(html)
    value = {
        name: int(found[f"kpi-eur-{name}"]["data-value"])
        for name in ("gross", "fees", "refunds", "disputes", "dispute-fees", "net")
    }
    assert value["gross"] == 4000 + 4600 + 3000  # the dollars as Stripe settled them
    assert value["refunds"] == 1000
    assert (value["disputes"], value["dispute-fees"]) == (4000, 3000)  # won came back
    assert value["net"] == books["net"]  # what Stripe paid out, to the cent
    assert int(found["original-usd"]["data-amount"]) == 5000
    assert int(found["payouts-failed"]["data-value"]) == 1


def test_the_fec_clearing_account_returns_to_zero(stripe_app, books, client, login, create_user):
    login(client, create_user("tresor3@example.org", roles=("treasurer",), locale="en"))
    year = dashboard.accounting_today(utcnow()).year
    rows = parse(client.get(f"/treasury/exports/fec?year={year}"))
    debit: dict[str, int] = defaultdict(int)
    credit: dict[str, int] = defaultdict(int)
    for row in rows:
        debit[row["CompteNum"]] += cents(row["Debit"])
        credit[row["CompteNum"]] += cents(row["Credit"])
    assert debit["467"] == credit["467"]  # the Stripe balance is empty, so is its account
    assert debit["512"] - credit["512"] == books["net"]  # the bounced payout came back
    assert debit["658"] - credit["658"] == 4000  # the lost dispute's funds
    assert (
        debit["627"]
        == sum(
            reload(stripe_app, books[name]).stripe_fee for name in ("member", "dollars", "refunded")
        )
        + 3000
    )
    dollar_sale = next(row for row in rows if row["Idevise"] == "USD" and row["Credit"] != "0,00")
    assert (dollar_sale["Montantdevise"], dollar_sale["Credit"]) == ("50,00", "46,00")

"""`flask payments reconcile`: the ledger compared with Stripe, what webhooks missed fixed."""

from __future__ import annotations

from marketplace.extensions import db
from marketplace.payments.models import Payment, PaymentStatus
from tests.payments.conftest import card, reload, stripe_api


def test_reconcile_fixes_a_missed_webhook_and_a_dashboard_refund(
    stripe_app, localstripe, new_payment, fulfilled
):
    missed = new_payment()
    refunded = new_payment()
    intents = {}
    for payment_id in (missed, refunded):
        intents[payment_id] = stripe_api(
            localstripe,
            "POST",
            "/v1/payment_intents",
            payment_method_types=["card"],
            amount=4000,
            currency="eur",
            payment_method=card(localstripe),
            confirm="true",
            **{"metadata[payment_id]": str(payment_id)},
        )["id"]
        with stripe_app.app_context():
            db.session.get(Payment, payment_id).stripe_payment_intent_id = intents[payment_id]
            db.session.commit()
    runner = stripe_app.test_cli_runner()
    first = runner.invoke(args=["payments", "reconcile"])
    assert first.exit_code == 0, first.output
    assert f"payment {missed}: pending -> succeeded" in first.output
    stripe_api(localstripe, "POST", "/v1/refunds", payment_intent=intents[refunded], amount=700)
    second = runner.invoke(args=["payments", "reconcile", "--since", "2000-01-01"])
    assert second.exit_code == 0, second.output
    assert f"payment {refunded}: refunded 0 -> 700" in second.output
    assert f"payment {missed}:" not in second.output
    assert reload(stripe_app, refunded).status == PaymentStatus.PARTIALLY_REFUNDED
    assert reload(stripe_app, missed).status == PaymentStatus.SUCCEEDED
    assert sorted(fulfilled) == sorted([missed, refunded])

"""The stricter Stripe in front of localstripe (tests/strict_stripe.py): each rule it applies
for the pinned API version, checked against the proxy itself."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.payments.conftest import API_KEY, HEADERS, card, stripe_api
from tests.strict_stripe import flatten


def call(
    base: str, method: str, path: str, *, headers: dict | None = None, **data
) -> requests.Response:
    return requests.request(
        method,
        f"{base}{path}",
        auth=(API_KEY, ""),
        headers=HEADERS if headers is None else headers,
        data=flatten(data) if method != "GET" else None,
        params=flatten(data) if method == "GET" else None,
        timeout=10,
    )


def paid_intent(base: str, amount: int = 4000, currency: str = "eur", **extra) -> dict:
    return stripe_api(
        base,
        "POST",
        "/v1/payment_intents",
        amount=amount,
        currency=currency,
        payment_method=card(base),
        payment_method_types=["card"],
        confirm="true",
        **extra,
    )


@pytest.fixture
def stripe(strict_stripe):
    strict_stripe.reset()
    return strict_stripe


def test_the_pinned_version_is_required_of_server_calls(stripe):
    for headers in ({}, {"Stripe-Version": "2022-08-01"}):
        refused = call(stripe.base, "POST", "/v1/customers", headers=headers, name="Ana")
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "api_version_invalid"
    assert call(stripe.base, "POST", "/v1/customers", name="Ana").status_code == 200


def test_unknown_parameters_are_refused_as_stripe_does(stripe):
    refused = call(stripe.base, "POST", "/v1/customers", name="Ana", nickname="A")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "parameter_unknown"
    assert refused.json()["error"]["param"] == "nickname"


def test_confirming_with_automatic_payment_methods_needs_a_return_url(stripe):
    """Changelog 2023-08-16: automatic payment methods by default, return_url to confirm."""
    base = stripe.base
    refused = call(
        base,
        "POST",
        "/v1/payment_intents",
        amount=1000,
        currency="eur",
        payment_method=card(base),
        confirm="true",
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "return_url"
    assert paid_intent(base)["status"] == "succeeded"  # payment_method_types=["card"]
    off_session = call(
        base,
        "POST",
        "/v1/payment_intents",
        amount=1000,
        currency="eur",
        payment_method=card(base),
        confirm="true",
        off_session="true",
    )
    assert off_session.status_code == 200


def test_a_setup_intent_without_card_only_cannot_be_confirmed_by_stripe_js(stripe):
    base = stripe.base
    customer = stripe_api(base, "POST", "/v1/customers", name="Ana")["id"]
    loose = stripe_api(base, "POST", "/v1/setup_intents", customer=customer)
    strict = stripe_api(
        base, "POST", "/v1/setup_intents", customer=customer, payment_method_types=["card"]
    )
    for setup, expected in ((loose, 400), (strict, 200)):
        confirmed = requests.post(
            f"{base}/v1/setup_intents/{setup['id']}/confirm",
            data=json.dumps(
                {
                    "key": "pk_test_localstripe",
                    "client_secret": setup["client_secret"],
                    "payment_method": card(base),
                }
            ),
            timeout=10,
        )
        assert confirmed.status_code == expected, confirmed.text


def test_no_embedded_charges_nor_refunds_unless_expanded(stripe):
    """Changelog 2022-11-15: PaymentIntent.charges removed, Charge.refunds not expanded."""
    base = stripe.base
    intent = paid_intent(base)
    assert "charges" not in intent
    assert isinstance(intent["latest_charge"], str)
    expanded = call(base, "GET", f"/v1/payment_intents/{intent['id']}", expand=["latest_charge"])
    assert expanded.json()["latest_charge"]["object"] == "charge"
    stripe_api(base, "POST", "/v1/refunds", payment_intent=intent["id"], amount=500)
    charge = call(base, "GET", f"/v1/charges/{intent['latest_charge']}").json()
    assert "refunds" not in charge
    assert charge["amount_refunded"] == 500
    with_refunds = call(base, "GET", f"/v1/charges/{charge['id']}", expand=["refunds"]).json()
    assert [refund["amount"] for refund in with_refunds["refunds"]["data"]] == [500]


def test_idempotency_keys_replay_or_refuse(stripe):
    base = stripe.base
    key = f"test-{uuid.uuid4().hex}"
    headers = {**HEADERS, "Idempotency-Key": key}
    first = call(base, "POST", "/v1/customers", headers=headers, name="Ana")
    again = call(base, "POST", "/v1/customers", headers=headers, name="Ana")
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = call(base, "POST", "/v1/customers", headers=headers, name="Bob")
    assert other.status_code == 400
    assert other.json()["error"]["type"] == "idempotency_error"


def test_charges_are_settled_in_euros_with_stripe_fees(stripe):
    base = stripe.base
    euro = paid_intent(base, 4000, "eur")
    dollar = paid_intent(base, 5000, "usd")
    for intent, expected in ((euro, (4000, 85, 3915, None)), (dollar, (4600, 94, 4506, 0.92))):
        charge = call(
            base, "GET", f"/v1/charges/{intent['latest_charge']}", expand=["balance_transaction"]
        ).json()
        settled = charge["balance_transaction"]
        assert settled["currency"] == "eur"
        assert (settled["amount"], settled["fee"], settled["net"], settled["exchange_rate"]) == (
            expected
        )


def test_a_lost_answer_still_does_the_work(stripe):
    base = stripe.base
    stripe.lose_answer("POST", "/v1/customers")
    name = f"Lost {uuid.uuid4().hex[:6]}"
    with pytest.raises(requests.ConnectionError):
        call(base, "POST", "/v1/customers", name=name)
    customers = stripe.upstream_get("/v1/customers", limit=100)["data"]
    assert name in {customer.get("name") for customer in customers}


def test_lists_localstripe_lacks(stripe):
    base = stripe.base
    customer = stripe_api(base, "POST", "/v1/customers", name="Ana")["id"]
    intent = paid_intent(base, customer=customer)
    listed = call(base, "GET", "/v1/payment_intents", customer=customer).json()
    assert [item["id"] for item in listed["data"]] == [intent["id"]]
    refund = stripe_api(base, "POST", "/v1/refunds", payment_intent=intent["id"], amount=100)
    since = call(base, "GET", "/v1/refunds", created={"gte": refund["created"]}).json()
    assert refund["id"] in {item["id"] for item in since["data"]}


class Receiver:
    """A webhook endpoint that records what it gets."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, str]] = []

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.received.append((json.loads(request.get_data()), request.headers["Stripe-Signature"]))
        return Response("ok")(environ, start_response)


@pytest.fixture
def receiver(stripe):
    app = Receiver()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook = f"test-{uuid.uuid4().hex[:6]}"
    requests.post(
        f"{stripe.base}/_config/webhooks/{hook}",
        data={"url": f"http://127.0.0.1:{server.server_port}/", "secret": "whsec_test"},
        timeout=10,
    ).raise_for_status()
    try:
        yield app
    finally:
        stripe.webhooks.endpoints.pop(hook, None)
        server.shutdown()
        thread.join(timeout=10)


def test_webhooks_late_twice_out_of_order_and_signed_again(stripe, receiver):
    stripe.webhooks.holding = True
    intent = paid_intent(stripe.base)
    dispute = stripe.open_dispute(intent["latest_charge"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(stripe.webhooks.held) < 3:
        time.sleep(0.1)  # localstripe sends its own events a second later
    assert receiver.received == []  # held: nothing delivered yet
    time.sleep(1.1)
    stripe.webhooks.release(order="reversed", twice=True)
    types = [body["type"] for body, _signature in receiver.received]
    assert types.count("charge.dispute.funds_withdrawn") == 2
    assert types.index("charge.dispute.funds_withdrawn") < types.index("charge.dispute.created")
    assert "payment_intent.succeeded" in types
    body, signature = receiver.received[0]
    stamp, digest = (part.split("=", 1)[1] for part in signature.split(","))
    assert int(stamp) > dispute["created"]  # signed at delivery, not when the event happened
    payload = json.dumps(body, indent=2).encode()
    expected = hmac.new(b"whsec_test", f"{stamp}.".encode() + payload, hashlib.sha256)
    assert digest == expected.hexdigest()
    succeeded = next(b for b, _s in receiver.received if b["type"] == "payment_intent.succeeded")
    assert isinstance(succeeded["data"]["object"]["latest_charge"], str)  # the pinned shape
    assert "charges" not in succeeded["data"]["object"]


def test_disputes_and_failed_payouts_localstripe_lacks(stripe):
    base = stripe.base
    intent = paid_intent(base)
    dispute = stripe.open_dispute(intent["latest_charge"])
    fetched = call(base, "GET", f"/v1/disputes/{dispute['id']}").json()
    [withdrawal] = fetched["balance_transactions"]
    assert (withdrawal["amount"], withdrawal["fee"], withdrawal["net"]) == (-4000, 1500, -5500)
    assert call(base, "GET", f"/v1/charges/{intent['latest_charge']}").json()["disputed"] is True
    closed = stripe.close_dispute(dispute["id"], won=True)
    assert [t["amount"] for t in closed["balance_transactions"]] == [-4000, 4000]
    payout = stripe.upstream_post("/v1/payouts", amount=1000, currency="eur", status="paid")
    stripe.fail_payout(payout["id"])
    assert call(base, "GET", f"/v1/payouts/{payout['id']}").json()["status"] == "failed"

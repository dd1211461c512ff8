"""The test session's localstripe: the Stripe stand-in the payment tests talk to over HTTP."""

import requests


def test_localstripe_serves_stripe_js_and_the_api(localstripe_server):
    localstripe = localstripe_server
    script = requests.get(f"{localstripe}/js.stripe.com/v3/", timeout=5)
    assert script.status_code == 200
    assert "Stripe" in script.text
    created = requests.post(
        f"{localstripe}/v1/customers",
        auth=("sk_test_localstripe", ""),
        data={"email": "payer@example.org"},
        timeout=5,
    )
    assert created.status_code == 200
    customer_id = created.json()["id"]
    fetched = requests.get(
        f"{localstripe}/v1/customers/{customer_id}", auth=("sk_test_localstripe", ""), timeout=5
    )
    assert fetched.json()["email"] == "payer@example.org"

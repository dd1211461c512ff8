"""``flask payments check-stripe`` (issue 12, Deliver 8): before going live, the pinned API
version, the account's currency and the webhook endpoint with every event the site handles."""

from __future__ import annotations

import uuid

import pytest
import requests

from marketplace.payments import webhooks
from marketplace.payments.gateway import API_VERSION

URL_PATH = "/payments/stripe/webhook"


@pytest.fixture
def endpoint(stripe_app, strict_stripe):
    """``endpoint(events)`` registers a webhook endpoint at Stripe for this site's URL."""
    made: list[str] = []

    def register(events: list[str] | None, url: str | None = None) -> None:
        hook = f"check-{uuid.uuid4().hex[:8]}"
        data: dict = {
            "url": url or stripe_app.config["SITE_URL"].rstrip("/") + URL_PATH,
            "secret": "whsec_check",
        }
        if events is not None:
            data.update({f"events[{index}]": name for index, name in enumerate(events)})
        requests.post(
            f"{strict_stripe.base}/_config/webhooks/{hook}", data=data, timeout=10
        ).raise_for_status()
        made.append(hook)

    yield register
    for hook in made:
        strict_stripe.webhooks.endpoints.pop(hook, None)


def run(app):
    return app.test_cli_runner().invoke(args=["payments", "check-stripe"])


def test_a_complete_endpoint_is_ready(stripe_app, endpoint):
    with stripe_app.app_context():
        wanted = webhooks.handled_event_types()
    assert {"payout.failed", "charge.dispute.funds_withdrawn", "refund.updated"} <= set(wanted)
    endpoint(wanted)
    result = run(stripe_app)
    assert result.exit_code == 0, result.output
    assert f"API version pinned: {API_VERSION}" in result.output
    assert "default currency EUR" in result.output
    assert "Ready" in result.output


def test_missing_events_or_no_endpoint_exit_non_zero(stripe_app, endpoint):
    result = run(stripe_app)
    assert result.exit_code == 1
    assert "MISSING: no enabled webhook endpoint" in result.output
    endpoint(["payment_intent.succeeded", "charge.refunded"])
    result = run(stripe_app)
    assert result.exit_code == 1
    assert "MISSING: the endpoint does not send:" in result.output
    assert "charge.dispute.funds_withdrawn" in result.output


def test_an_endpoint_for_another_site_does_not_count(stripe_app, endpoint):
    endpoint(None, url="https://another-site.example.org" + URL_PATH)
    result = run(stripe_app)
    assert result.exit_code == 1
    assert "no enabled webhook endpoint" in result.output


def test_stripe_unreachable_exits_non_zero(app):
    previous = app.config["STRIPE_API_BASE"]
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"
    app.extensions.pop("stripe_gateway", None)
    try:
        result = run(app)
    finally:
        app.config["STRIPE_API_BASE"] = previous
        app.extensions.pop("stripe_gateway", None)
    assert result.exit_code == 1
    assert "Stripe could not be asked" in result.output

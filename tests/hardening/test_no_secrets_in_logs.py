"""CHECKS.md: no password, token, ``sk_``/``whsec_`` secret, card data or CV text in any log
line or error page.

One journey logs everything it can at DEBUG level: a failed and a good sign-in, a password
reset, an API token, a card payment against localstripe, a signed webhook, an application
with a CV, and the error answers on the way; then no log record (message, arguments or
traceback) and no error body holds any of the secrets used.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable

import pytest
from flask import Flask

from marketplace.accounts.models import User
from tests.conftest import PASSWORD
from tests.jobs.conftest import MINIMAL_PDF
from tests.payments.conftest import VISA, card, event, sign, stripe_api

NEW_PASSWORD = "a fresh walk along the tagus 7"
CV_TEXT = b"CANARY-CV-TEXT-q8Zr2 Ada Lovelace, 12 rue des Secrets"
CV = MINIMAL_PDF.replace(b"%PDF-1.4\n", b"%PDF-1.4\n% " + CV_TEXT + b"\n", 1)
EN = {"Accept-Language": "en"}


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    """Each record as a handler would write it, traceback and raw arguments included."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    lines = []
    for record in caplog.records:
        lines.append(formatter.format(record))
        lines.append(repr(record.args))
    return "\n".join(lines)


@pytest.fixture
def people(create_user: Callable[..., User], seed_reference: None) -> dict[str, User]:
    return {
        "member": create_user("secret.keeper@example.org", alumni=True, status="verified"),
    }


def test_no_password_token_secret_card_or_cv_text_in_logs_or_error_pages(
    app: Flask,
    client,
    stripe_app: Flask,
    localstripe: str,
    people,
    outbox,
    create_partner,
    create_job,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    member = people["member"]
    secrets: dict[str, str] = {
        "password": PASSWORD,
        "new password": NEW_PASSWORD,
        "stripe secret key": app.config["STRIPE_SECRET_KEY"],
        "webhook secret": app.config["STRIPE_WEBHOOK_SECRET"],
        "app secret key": app.config["SECRET_KEY"],
        "card number": VISA,
        "cv text": CV_TEXT.decode(),
    }
    # Error answers, each with the secret it may show: the reset form posts to its own link.
    error_bodies: list[tuple[str, set[str]]] = []

    # Sign-in: a wrong password, a good one (the form is re-rendered without the password).
    wrong = client.post(
        "/accounts/login", data={"email": member.email, "password": PASSWORD + "x"}, headers=EN
    )
    assert wrong.status_code == 422
    error_bodies.append((wrong.get_data(as_text=True), set()))
    assert (
        client.post(
            "/accounts/login", data={"email": member.email, "password": PASSWORD}
        ).status_code
        == 302
    )
    client.post("/accounts/logout")

    # Password reset: the mailed token and the new password.
    client.post("/accounts/password/forgot", data={"email": member.email})
    (mail,) = [m for m in outbox(to=member.email) if "/accounts/password/reset/" in m.body_text]
    reset_token = re.search(r"/accounts/password/reset/([A-Za-z0-9_\-]+)", mail.body_text)[1]
    secrets["reset token"] = reset_token
    weak = client.post(
        f"/accounts/password/reset/{reset_token}",
        data={"password": "short", "confirm": "short"},
    )
    error_bodies.append((weak.get_data(as_text=True), {"reset token"}))
    done = client.post(
        f"/accounts/password/reset/{reset_token}",
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert done.status_code == 302

    # API tokens: a refused exchange, then a token.
    refused = client.post(
        "/api/v1/tokens", json={"email": member.email, "password": PASSWORD}, headers=EN
    )
    assert refused.status_code == 401
    error_bodies.append((refused.get_data(as_text=True), set()))
    invalid = client.post(
        "/api/v1/tokens", json={"email": ["not", "text"], "password": NEW_PASSWORD}, headers=EN
    )
    assert invalid.status_code == 422
    error_bodies.append((invalid.get_data(as_text=True), set()))
    issued = client.post(
        "/api/v1/tokens", json={"email": member.email, "password": NEW_PASSWORD}, headers=EN
    )
    assert issued.status_code == 201
    token = issued.get_json()["token"]
    secrets["api token"] = token
    headers = {"Authorization": f"Bearer {token}", **EN}

    # A card payment against localstripe, then its signed webhook.
    started = client.post(
        "/api/v1/me/membership/checkout", json={"tier": "standard"}, headers=headers
    ).get_json()
    secrets["setup intent client secret"] = started["setup_intent_client_secret"]
    setup_id = started["setup_intent_client_secret"].split("_secret_")[0]
    method = card(localstripe, VISA)
    stripe_api(localstripe, "POST", f"/v1/setup_intents/{setup_id}/confirm", payment_method=method)
    paid = client.post(
        f"/api/v1/payments/{started['payment_id']}/confirm",
        json={"payment_method": method},
        headers=headers,
    )
    assert paid.status_code == 200, paid.get_json()
    body = event("payment_intent.succeeded", {"id": "pi_unknown", "object": "payment_intent"})
    signature = sign(body, app.config["STRIPE_WEBHOOK_SECRET"])
    secrets["webhook signature"] = signature.split("v1=")[1]
    client.post("/payments/stripe/webhook", data=body, headers={"Stripe-Signature": signature})
    forged = client.post(
        "/payments/stripe/webhook", data=body, headers={"Stripe-Signature": "t=1,v1=00"}
    )
    assert forged.status_code == 400
    error_bodies.append((forged.get_data(as_text=True), set()))

    # An application with a CV, through the page and the API.
    partner = create_partner("Secretive Ltd")
    job = create_job(partner)
    other_job = create_job(partner, title_fr="Autre poste", title_en="Other job")
    client.post("/accounts/login", data={"email": member.email, "password": NEW_PASSWORD})
    applied = client.post(
        f"/jobs/applications/apply/{job.id}",
        data={"cv": (io.BytesIO(CV), "cv.pdf"), "cover_letter": "Hello"},
        content_type="multipart/form-data",
    )
    assert applied.status_code == 302
    api = app.test_client()  # a bearer-token caller has no session cookie
    by_api = api.post(
        f"/api/v1/jobs/{other_job.id}/applications",
        data={"cv": (io.BytesIO(CV), "cv.pdf"), "cover_letter": "Hello"},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert by_api.status_code == 201, by_api.get_json()
    twice = api.post(
        f"/api/v1/jobs/{other_job.id}/applications",
        data={"cv": (io.BytesIO(CV), "cv.pdf")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert twice.status_code == 409
    error_bodies.append((twice.get_data(as_text=True), set()))

    logged = everything_logged(caplog)
    assert caplog.records, "the journey logged nothing: the capture is broken"
    leaks = [name for name, value in secrets.items() if value in logged]
    assert leaks == [], f"secrets in the logs: {leaks}"
    for page, allowed in error_bodies:
        shown = [name for name, value in secrets.items() if value in page and name not in allowed]
        assert shown == [], f"secrets in an error answer: {shown}"

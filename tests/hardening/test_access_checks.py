"""CHECKS.md "CSRF and access control" and "Accounts and sessions" lines not held elsewhere:

- fields a client must not set (``partner_id``, ``status``, ``redeemed_count``, ``verified``,
  owners and amounts) are absent from every documented API body and ignored when sent;
- a member cannot read another member's redemptions, applications or payments, through the
  pages or the API, by id or in a list;
- revoking a role takes effect on the next API call of a token issued before;
- every signed-in answer (page or API, session or bearer token) is ``Cache-Control: no-store``.
"""

from __future__ import annotations

import io

import pytest
from flask import Flask, url_for
from sqlalchemy import select

from jobs.models import Application, ApplicationStatus, Job, JobStatus
from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.payments import services as payment_services
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus
from offers.models import Offer, OfferStatus, Redemption
from tests.hardening.conftest import World, bearer_for
from tests.jobs.conftest import MINIMAL_PDF
from tests.test_permissions import EXPECTED, _get_endpoints, _url

# Never writable by a client, on any API body: who owns a row, its moderation state, counters.
FORBIDDEN = {"partner_id", "redeemed_count", "verified", "user_id", "payer_id", "owner_id"}
# ``status`` is what a partner decides on an application; anywhere else it is not the client's.
STATUS_WRITABLE = {("patch", "/api/v1/partner/applications/{application_id}")}
EN = {"Accept-Language": "en"}


def _properties(spec: dict, schema: dict) -> set[str]:
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return {
        name for name, field in schema.get("properties", {}).items() if not field.get("readOnly")
    }


def test_no_api_body_documents_a_field_the_client_must_not_set(client) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    offending = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            if not body:
                continue
            for content in body["content"].values():
                names = _properties(spec, content["schema"])
                forbidden = FORBIDDEN | (set() if (method, path) in STATUS_WRITABLE else {"status"})
                offending += [(method, path, name) for name in sorted(names & forbidden)]
    assert offending == []


def test_api_writes_ignore_fields_the_client_must_not_set(
    app: Flask, client, stripe_app: Flask, world: World, create_partner, create_job
) -> None:
    other = create_partner("Other Co")
    extras = {
        "partner_id": other.id,
        "status": "published",
        "redeemed_count": 99,
        "verified": True,
        "user_id": world.users["admin"].id,
        "payer_id": world.users["admin"].id,
        "id": 999_999,
    }
    partner_headers = {**world.headers["partner"], **EN}
    member_headers = {**world.headers["verified"], **EN}
    draft_id = world.ids["draft_offer_id"]

    patched = client.patch(
        f"/api/v1/partner/offers/{draft_id}",
        json={"title_en": "New title", **extras},
        headers=partner_headers,
    )
    assert patched.status_code == 200, patched.get_json()
    with app.app_context():
        offer = db.session.get(Offer, draft_id)
        assert (offer.partner_id, offer.status, offer.redeemed_count) == (
            world.ids["partner_id"],
            OfferStatus.DRAFT,
            0,
        )

    draft_job = create_job(world.partner, status="draft")
    patched = client.patch(
        f"/api/v1/partner/jobs/{draft_job.id}",
        json={"city": "Lille", **extras},
        headers=partner_headers,
    )
    assert patched.status_code == 200, patched.get_json()
    with app.app_context():
        job = db.session.get(Job, draft_job.id)
        assert (job.partner_id, job.status, job.city) == (
            world.ids["partner_id"],
            JobStatus.DRAFT,
            "Lille",
        )

    # An application: the candidate is the caller, its status is "submitted".
    open_job = create_job(world.partner)
    applied = client.post(
        f"/api/v1/jobs/{open_job.id}/applications",
        data={"cv": (io.BytesIO(MINIMAL_PDF), "cv.pdf"), **{k: str(v) for k, v in extras.items()}},
        headers=member_headers,
        content_type="multipart/form-data",
    )
    assert applied.status_code == 201, applied.get_json()
    with app.app_context():
        application = db.session.get(Application, applied.get_json()["id"])
        assert application.user_id == world.users["verified"].id
        assert application.job_id == open_job.id
        assert application.status == ApplicationStatus.SUBMITTED

    # The partner moves it on; who it belongs to does not move.
    moved = client.patch(
        f"/api/v1/partner/applications/{application.id}",
        json={**extras, "status": "shortlisted", "job_id": world.ids["job_id"]},
        headers=partner_headers,
    )
    assert moved.status_code in (200, 422), moved.get_json()
    with app.app_context():
        application = db.session.get(Application, application.id)
        assert (application.user_id, application.job_id) == (
            world.users["verified"].id,
            open_job.id,
        )

    # A redemption is the caller's, whatever the body says.
    redeemed = client.post(
        f"/api/v1/offers/{world.ids['offer_id']}/redemptions", json=extras, headers=member_headers
    )
    assert redeemed.status_code == 201, redeemed.get_json()
    with app.app_context():
        rows = db.session.scalars(
            select(Redemption).where(Redemption.offer_id == world.ids["offer_id"])
        ).all()
        assert [row.user_id for row in rows] == [world.users["verified"].id]

    # A membership checkout charges the tier's price to the caller, or refuses the extras.
    with app.app_context():
        payments_before = db.session.scalars(select(Payment.id)).all()
    checkout = client.post(
        "/api/v1/me/membership/checkout",
        json={"tier": "standard", "amount": 1, "currency": "usd", **extras},
        headers=member_headers,
    )
    with app.app_context():
        new = set(db.session.scalars(select(Payment.id)).all()) - set(payments_before)
        if checkout.status_code == 422:  # refused whole: nothing was created
            assert {"amount", "partner_id"} <= set(checkout.get_json()["errors"]["json"])
            assert new == set()
        else:
            assert checkout.status_code == 201, checkout.get_json()
            payment = db.session.get(Payment, checkout.get_json()["payment_id"])
            assert (payment.amount, payment.currency) == (4000, "eur")
            assert payment.payer_id == world.users["verified"].id
            assert payment.status != PaymentStatus.SUCCEEDED


# ---------------------------------------------------------------- one member, another's rows


def test_a_member_cannot_read_another_members_redemptions_applications_or_payments(
    app: Flask, client, world: World, create_user, login
) -> None:
    owner = world.users["verified"]
    owner_headers = {**world.headers["verified"], **EN}
    # The owner's rows: a redemption (code CODE-x), the world's application, a payment.
    redeemed = client.post(
        f"/api/v1/offers/{world.ids['offer_id']}/redemptions", headers=owner_headers
    )
    assert redeemed.status_code == 201, redeemed.get_json()
    code = redeemed.get_json()["code"]
    with app.app_context():
        redemption_id = db.session.scalar(
            select(Redemption.id).where(Redemption.user_id == owner.id)
        )
        payment = payment_services.create_payment(
            kind=PaymentKind.MEMBERSHIP,
            amount=4000,
            currency="eur",
            payer=db.session.get(User, owner.id),
            subject={"tier": "standard"},
            description="Membership",
        )
        db.session.commit()
        payment_id = payment.id
        with app.test_request_context():
            pages = {
                "redemption": url_for("offers.wallet.show", redemption_id=redemption_id),
                "cv": url_for("jobs.applications.cv", application_id=world.ids["application_id"]),
                "payment": url_for("payments.detail", payment_id=payment_id),
                "wallet": url_for("offers.wallet.index"),
                "applications": url_for("jobs.applications.index"),
            }
    # The owner sees them (so the 404s below are about the caller, not missing rows).
    owner_client = login(app.test_client(), owner)
    for name in ("redemption", "cv", "payment"):
        response = owner_client.get(pages[name])
        assert response.status_code == 200, name
        response.close()

    assert f"redemption-{redemption_id}" in owner_client.get(pages["wallet"]).get_data(as_text=True)
    marker = f"application-{world.ids['application_id']}"
    assert marker in owner_client.get(pages["applications"]).get_data(as_text=True)

    other = create_user("nosy@example.org", alumni=True, status="verified", locale="en")
    other_client = login(app.test_client(), other)
    for name in ("redemption", "cv", "payment"):
        response = other_client.get(pages[name])
        assert response.status_code == 404, name
        response.close()
    wallet = other_client.get(pages["wallet"]).get_data(as_text=True)
    assert f"redemption-{redemption_id}" not in wallet
    assert code not in wallet
    assert marker not in other_client.get(pages["applications"]).get_data(as_text=True)

    other_api = {**bearer_for(app, other), **EN}
    assert client.get(f"/api/v1/payments/{payment_id}", headers=other_api).status_code == 404
    assert client.get("/api/v1/me/redemptions", headers=other_api).get_json() == []
    assert client.get("/api/v1/me/applications", headers=other_api).get_json() == []
    withdraw = client.post(
        f"/api/v1/me/applications/{world.ids['application_id']}/withdraw", headers=other_api
    )
    assert withdraw.status_code == 404
    # …while the owner's lists hold them.
    mine = client.get("/api/v1/me/redemptions", headers=owner_headers).get_json()
    assert [row["code"] for row in mine] == [code]
    my_applications = client.get("/api/v1/me/applications", headers=owner_headers).get_json()
    assert [row["id"] for row in my_applications] == [world.ids["application_id"]]


# ---------------------------------------------------------------- roles revoked, tokens kept


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        ("treasurer", "get", "/api/v1/treasury/payments"),
        ("moderator", "post", "/api/v1/moderation/offers/{draft_offer_id}/approve"),
    ],
)
def test_a_revoked_role_is_refused_at_the_next_api_call_with_the_same_token(
    app: Flask, client, world: World, login, role: str, method: str, path: str
) -> None:
    url = path.format(**world.ids)
    headers = {**world.headers[role], **EN}
    before = getattr(client, method)(url, headers=headers)
    assert before.status_code not in (401, 403), before.get_json()

    admin_client = login(app.test_client(), world.users["admin"])
    revoked = admin_client.post(
        f"/admin/users/{world.users[role].id}/roles", data={"role": role, "action": "revoke"}
    )
    assert revoked.status_code == 302
    after = getattr(client, method)(url, headers=headers)
    assert after.status_code == 403


# ---------------------------------------------------------------- no-store when signed in


@pytest.mark.parametrize("role", ["verified", "admin"])
def test_every_signed_in_answer_is_no_store(app: Flask, world: World, login, role: str) -> None:
    """Every GET route of the permission table that answers 2xx to a signed-in person."""
    people = {
        "pending": world.users["pending"],
        "verified": world.users["verified"],
        "moderator": world.users["moderator"],
        "treasurer": world.users["treasurer"],
        "admin": world.users["admin"],
    }
    signed_in = login(app.test_client(), people[role])
    checked, cached = [], []
    for endpoint in sorted(_get_endpoints(app) & set(EXPECTED)):
        if endpoint == "static":
            continue
        response = signed_in.get(_url(app, endpoint, people))
        if 200 <= response.status_code < 300:
            checked.append(endpoint)
            if "no-store" not in response.headers.get("Cache-Control", ""):
                cached.append(endpoint)
        response.close()
    api = app.test_client()
    for path in ("/api/v1/me", "/api/v1/me/redemptions", "/api/v1/me/membership"):
        response = api.get(path, headers=world.headers[role])
        assert response.status_code == 200, path
        checked.append(path)
        if "no-store" not in response.headers.get("Cache-Control", ""):
            cached.append(path)
    assert len(checked) > 10
    assert cached == []

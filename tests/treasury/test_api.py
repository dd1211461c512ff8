"""Treasury API: the ledger, refunds and period sums, for treasurers and admins only."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus, Refund
from tests.payments.test_refund_views import paid_in_stripe, stripe_stand_in  # noqa: F401


@pytest.mark.parametrize(
    ("roles", "expected"),
    [((), 403), (("moderator",), 403), (("treasurer",), 200), (("admin",), 200)],
)
def test_only_treasurers_and_admins_read_the_ledger(client, create_user, bearer, roles, expected):
    headers = bearer(create_user(roles=roles))
    assert client.get("/api/v1/treasury/payments", headers=headers).status_code == expected
    assert client.get("/api/v1/treasury/summary", headers=headers).status_code == expected


def test_anonymous_callers_get_401(client):
    assert client.get("/api/v1/treasury/payments").status_code == 401
    assert (
        client.post("/api/v1/treasury/payments/1/refunds", json={"reason": "x"}).status_code == 401
    )


def test_the_ledger_filters_and_pages(client, create_user, bearer, create_payment):
    headers = bearer(create_user(roles=("treasurer",)))
    kept = [
        create_payment(kind=PaymentKind.FEATURED, created_at=datetime(2034, 5, day, tzinfo=UTC))
        for day in (1, 2, 3)
    ]
    create_payment(kind=PaymentKind.MEMBERSHIP, created_at=datetime(2034, 5, 4, tzinfo=UTC))
    create_payment(kind=PaymentKind.FEATURED, created_at=datetime(2034, 6, 1, tzinfo=UTC))
    response = client.get(
        "/api/v1/treasury/payments?from=2034-05-01&to=2034-05-31&kind=featured&page_size=2",
        headers=headers,
    )
    assert response.status_code == 200
    assert [row["id"] for row in response.get_json()] == [kept[2], kept[1]]
    assert json.loads(response.headers["X-Pagination"])["total"] == 3
    second = client.get(
        "/api/v1/treasury/payments?from=2034-05-01&to=2034-05-31&kind=featured&page_size=2&page=2",
        headers=headers,
    )
    assert [row["id"] for row in second.get_json()] == [kept[0]]
    row = second.get_json()[0]
    assert (row["kind"], row["status"], row["amount"], row["currency"]) == (
        "featured",
        "succeeded",
        4000,
        "EUR",
    )
    failed = client.get("/api/v1/treasury/payments?from=2034-05-01&status=failed", headers=headers)
    assert failed.get_json() == []
    bad = client.get("/api/v1/treasury/payments?kind=gift", headers=headers)
    assert bad.status_code == 422


def test_the_summary_sums_a_period_by_kind(client, create_user, bearer, create_payment, add_refund):
    headers = bearer(create_user(roles=("treasurer",)))
    day = datetime(2035, 2, 10, tzinfo=UTC)
    create_payment(amount=4000, fee=85, created_at=day)
    refunded = create_payment(
        amount=1500,
        fee=40,
        refunded=500,
        status=PaymentStatus.PARTIALLY_REFUNDED,
        created_at=day,
    )
    # Refunds count by the day they were made (marketplace/treasury/dashboard.py).
    add_refund(refunded, 500, created_at=day)
    create_payment(kind=PaymentKind.PARTNER_PLAN, amount=50000, fee=None, created_at=day)
    create_payment(amount=9999, status=PaymentStatus.FAILED, created_at=day)  # not counted
    create_payment(amount=7777, created_at=datetime(2035, 3, 1, tzinfo=UTC))  # outside
    response = client.get("/api/v1/treasury/summary?from=2035-02-01&to=2035-02-28", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["from"], body["to"]) == ("2035-02-01", "2035-02-28")
    by_kind = {row["kind"]: row for row in body["by_kind"]}
    assert by_kind["membership"] == {
        "kind": "membership",
        "currency": "EUR",
        "gross": 5500,
        "fees": 125,
        "refunds": 500,
        "disputes": 0,
        "dispute_fees": 0,
        "net": 4875,
        "count": 2,
    }
    assert by_kind["partner_plan"]["net"] == 50000
    assert "featured" not in by_kind


def test_a_refund_through_the_api(app, client, create_user, bearer, paid_in_stripe):  # noqa: F811
    treasurer = create_user(roles=("treasurer",))
    headers = bearer(treasurer)
    payment_id = paid_in_stripe(4000)
    response = client.post(
        f"/api/v1/treasury/payments/{payment_id}/refunds",
        json={"amount": 1000, "reason": "Geste commercial"},
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["amount"], body["status"], body["payment_id"]) == (1000, "succeeded", payment_id)
    too_much = client.post(
        f"/api/v1/treasury/payments/{payment_id}/refunds",
        json={"amount": 3001, "reason": "Trop"},
        headers=headers,
    )
    assert too_much.status_code == 409
    assert "3000" in too_much.get_json()["message"]
    rest = client.post(
        f"/api/v1/treasury/payments/{payment_id}/refunds",
        json={"reason": "Le reste"},
        headers=headers,
    )
    assert rest.status_code == 201
    assert rest.get_json()["amount"] == 3000
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        assert (payment.status, payment.refunded_amount) == (PaymentStatus.REFUNDED, 4000)
        refunds = db.session.scalars(select(Refund).where(Refund.payment_id == payment_id)).all()
        assert sorted(refund.amount for refund in refunds) == [1000, 3000]
        assert all(refund.created_by_id == treasurer.id for refund in refunds)


def test_a_refund_needs_a_reason_and_a_known_payment(client, create_user, bearer, create_payment):
    headers = bearer(create_user(roles=("treasurer",)))
    payment_id = create_payment()
    missing = client.post(
        f"/api/v1/treasury/payments/{payment_id}/refunds", json={}, headers=headers
    )
    assert missing.status_code == 422
    unknown = client.post(
        "/api/v1/treasury/payments/999999999/refunds", json={"reason": "x"}, headers=headers
    )
    assert unknown.status_code == 404


def test_a_session_cannot_refund(client, login, create_user, create_payment):
    payment_id = create_payment()
    login(client, create_user(roles=("treasurer",)))
    response = client.post(f"/api/v1/treasury/payments/{payment_id}/refunds", json={"reason": "x"})
    assert response.status_code == 401
    assert client.get("/api/v1/treasury/payments").status_code == 200

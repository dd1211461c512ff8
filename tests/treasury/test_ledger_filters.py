"""The payments table: search, sorting, timeline of a payment; the same filters in the API."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from marketplace.extensions import db
from marketplace.payments.models import PaymentKind, PaymentStatus, StripeEvent


def _ids(html: str) -> list[int]:
    return [int(value) for value in re.findall(r'id="payment-(\d+)"', html)]


@pytest.fixture
def signed_in(client, login, treasurer):
    return login(client, treasurer)


@pytest.fixture
def ledger(create_payment, add_refund):
    day = datetime(2046, 2, 1, tzinfo=UTC)
    rows = {
        "alice": create_payment(
            amount=4000,
            payer_name="Alice Dupont",
            payer_email="alice@example.org",
            document=(2046, 123),
            intent="pi_alice",
            charge="ch_alice",
            created_at=day,
        ),
        "bruno": create_payment(
            amount=1500,
            payer_name="Bruno Martin",
            payer_email="bruno@corp.example",
            status=PaymentStatus.PARTIALLY_REFUNDED,
            refunded=500,
            created_at=datetime(2046, 2, 2, tzinfo=UTC),
        ),
        "chloe": create_payment(
            kind=PaymentKind.PARTNER_PLAN,
            amount=50000,
            payer_name="Chloé 100%_Partner",
            status=PaymentStatus.PENDING,
            created_at=datetime(2046, 2, 3, tzinfo=UTC),
        ),
    }
    add_refund(rows["bruno"], 500, stripe_refund_id="re_bruno")
    return rows


@pytest.mark.parametrize(
    ("q", "who"),
    [
        ("alice", {"alice"}),  # part of a name, any case
        ("DUPONT", {"alice"}),
        ("corp.example", {"bruno"}),  # part of an e-mail
        ("2046-000123", {"alice"}),  # document number
        ("pi_alice", {"alice"}),  # Stripe ids
        ("ch_alice", {"alice"}),
        ("re_bruno", {"bruno"}),
        ("100%_", {"chloe"}),  # LIKE wildcards are taken literally
        ("%", {"chloe"}),
        ("%%", set()),
        ("nobody", set()),
    ],
)
def test_the_search_box(signed_in, ledger, q, who):
    response = signed_in.get("/treasury/payments", query_string={"start": "2046-01-01", "q": q})
    assert response.status_code == 200
    assert set(_ids(response.get_data(as_text=True))) == {ledger[name] for name in who}


def test_a_payment_number_is_found(signed_in, ledger):
    html = signed_in.get(f"/treasury/payments?q=%23{ledger['bruno']}").get_data(as_text=True)
    assert _ids(html) == [ledger["bruno"]]


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("-date", ["chloe", "bruno", "alice"]),
        ("date", ["alice", "bruno", "chloe"]),
        ("amount", ["bruno", "alice", "chloe"]),
        ("-amount", ["chloe", "alice", "bruno"]),
        ("status", ["chloe", "alice", "bruno"]),  # pending, succeeded, partially refunded
        ("-status", ["bruno", "alice", "chloe"]),
        ("payer_email; DROP TABLE payments", ["chloe", "bruno", "alice"]),  # not whitelisted
    ],
)
def test_sorting(signed_in, ledger, sort, order):
    response = signed_in.get(
        "/treasury/payments",
        query_string={"start": "2046-01-01", "end": "2046-12-31", "sort": sort},
    )
    assert _ids(response.get_data(as_text=True)) == [ledger[name] for name in order]


def test_sort_links_and_pager_keep_the_search(signed_in, ledger):
    html = signed_in.get("/treasury/payments?start=2046-01-01&q=a&sort=amount").get_data(
        as_text=True
    )
    assert 'data-sort="-amount"' in html  # the current column flips
    assert 'aria-sort="ascending"' in html
    assert "q=a" in html


def test_searching_runs_the_same_queries_whatever_the_matches(
    signed_in, create_payment, count_selects
):
    create_payment(payer_name="Query Budget", created_at=datetime(2047, 1, 1, tzinfo=UTC))
    url = "/treasury/payments?start=2047-01-01&q=budget&sort=-amount"
    with count_selects() as few:
        assert signed_in.get(url).status_code == 200
    for day in range(2, 22):
        create_payment(
            payer_name=f"Query Budget {day}",
            refunded=100,
            created_at=datetime(2047, 1, day, tzinfo=UTC),
        )
    with count_selects() as many:
        response = signed_in.get(url)
    assert len(_ids(response.get_data(as_text=True))) == 21
    assert len(many) == len(few)


def test_the_timeline_of_a_payment(app, signed_in, treasurer, create_payment, add_refund):
    payment_id = create_payment(
        amount=4000,
        status=PaymentStatus.PARTIALLY_REFUNDED,
        refunded=1000,
        document=(2046, 7),
        intent="pi_timeline",
        charge="ch_timeline",
        created_at=datetime(2046, 5, 1, 9, tzinfo=UTC),
        succeeded_at=datetime(2046, 5, 1, 9, 5, tzinfo=UTC),
    )
    add_refund(
        payment_id,
        1000,
        created_at=datetime(2046, 5, 3, tzinfo=UTC),
        reason="Doublon",
        created_by_id=treasurer.id,
        stripe_refund_id="re_timeline",
    )
    with app.app_context():
        db.session.add_all(
            [
                StripeEvent(
                    event_id="evt_tl_1",
                    type="payment_intent.succeeded",
                    object_id="pi_timeline",
                    received_at=datetime(2046, 5, 1, 9, 6, tzinfo=UTC),
                ),
                StripeEvent(
                    event_id="evt_tl_2",
                    type="charge.refunded",
                    object_id="ch_timeline",
                    received_at=datetime(2046, 5, 3, 1, tzinfo=UTC),
                ),
                StripeEvent(
                    event_id="evt_other", type="payment_intent.succeeded", object_id="pi_x"
                ),
            ]
        )
        db.session.commit()
    html = signed_in.get(f"/treasury/payments/{payment_id}").get_data(as_text=True)
    timeline = html[html.index('id="payment-timeline"') :]
    events = re.findall(r'data-event="([a-z_]+)"', timeline)
    assert events == ["created", "succeeded", "document", "stripe_event", "refund", "stripe_event"]
    assert "evt_tl_1" in timeline
    assert "evt_other" not in timeline
    assert "2046-000007" in timeline
    assert "Camille Martin" in timeline  # who refunded
    assert 'id="refund-form"' in html  # the refund action stays


def test_the_api_searches_sorts_and_shows_one_payment(client, create_user, bearer, ledger):
    headers = bearer(create_user(roles=("treasurer",)))
    found = client.get("/api/v1/treasury/payments?q=2046-000123", headers=headers)
    assert [row["id"] for row in found.get_json()] == [ledger["alice"]]
    ordered = client.get(
        "/api/v1/treasury/payments?from=2046-01-01&to=2046-12-31&sort=amount", headers=headers
    )
    assert [row["id"] for row in ordered.get_json()] == [
        ledger["bruno"],
        ledger["alice"],
        ledger["chloe"],
    ]
    bad = client.get("/api/v1/treasury/payments?sort=payer_email", headers=headers)
    assert bad.status_code == 422

    one = client.get(f"/api/v1/treasury/payments/{ledger['bruno']}", headers=headers)
    assert one.status_code == 200
    body = one.get_json()
    assert (body["id"], body["refunded_amount"]) == (ledger["bruno"], 500)
    assert [refund["stripe_refund_id"] for refund in body["refunds"]] == ["re_bruno"]
    assert client.get("/api/v1/treasury/payments/999999999", headers=headers).status_code == 404

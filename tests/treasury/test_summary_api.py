"""GET /api/v1/treasury/summary: the dashboard's figures, equal to sums computed in the test."""

from __future__ import annotations

from datetime import date

import pytest

from marketplace.accounts.services import issue_api_token
from marketplace.extensions import db
from marketplace.payments.models import PaymentKind
from tests.treasury import dashboard_support
from tests.treasury.dashboard_support import (
    _bulk,
    expected_membership_counts,
    expected_month,
    expected_sums,
    expected_totals,
    months_back,
    utc,
)

# The seeded ledger and members of the dashboard tests.
ledger = dashboard_support.ledger
members = dashboard_support.members

URL = "/api/v1/treasury/summary"


@pytest.fixture
def headers(app, create_user):
    user = create_user(roles=("treasurer",))
    with app.app_context():
        token, _row = issue_api_token(db.session.get(type(user), user.id))
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_totals_and_by_kind_equal_the_ledger_summed_here(client, headers, ledger):
    response = client.get(f"{URL}?from=2031-01-01&to=2031-01-31", headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["from"], body["to"]) == ("2031-01-01", "2031-01-31")
    start, end = date(2031, 1, 1), date(2031, 1, 31)
    totals = {row["currency"]: row for row in body["totals"]}
    assert list(totals) == ["EUR"]  # booked in euros, as Stripe settled
    names = ("gross", "fees", "refunds", "disputes", "dispute_fees", "net", "count", "refund_count")
    for currency, sums in expected_totals(start, end).items():
        for name in names:
            assert totals[currency][name] == sums[name], (currency, name)
    assert totals["EUR"]["originals"] == [
        {"currency": "USD", "amount": 8000, "settled": 4600, "count": 2, "unsettled": 1}
    ]
    expected = expected_sums(start, end)
    for currency in ("EUR",):
        for kind in PaymentKind:
            got = totals[currency]["by_kind"][kind.value]
            want = expected.get((currency, kind.value))
            for name in ("gross", "fees", "refunds", "net", "count", "refund_count"):
                assert got[name] == (want[name] if want else 0), (currency, kind, name)
    # ``by_kind`` keeps its former shape: one row per (kind, currency) with money in it.
    rows = {(row["currency"], row["kind"]): row for row in body["by_kind"]}
    assert set(rows) == set(expected)
    for key, row in rows.items():
        assert set(row) == {
            "kind",
            "currency",
            "gross",
            "fees",
            "refunds",
            "disputes",
            "dispute_fees",
            "net",
            "count",
        }
        assert {name: row[name] for name in ("gross", "fees", "refunds", "net", "count")} == {
            name: expected[key][name] for name in ("gross", "fees", "refunds", "net", "count")
        }
    assert body["failed"] == {"count": 2}
    assert body["disputes"] == {"open": 1, "in_period": 1, "payouts_failed": 0}
    assert body["series"] == []


def test_the_monthly_series_on_request(client, headers, ledger):
    response = client.get(f"{URL}?from=2031-01-01&to=2031-01-31&months=24", headers=headers)
    assert response.status_code == 200
    series = {row["currency"]: row["months"] for row in response.get_json()["series"]}
    assert set(series) == {"EUR"}
    for currency, months in series.items():
        wanted = months_back(date(2031, 1, 1), 24)
        assert [point["month"] for point in months] == [f"{month:%Y-%m}" for month in wanted]
        for point, month in zip(months, wanted, strict=True):
            expected = expected_month(currency, month)
            for kind in PaymentKind:
                for name in ("gross", "fees", "refunds", "net", "count"):
                    assert point["by_kind"][kind.value][name] == expected[kind.value][name], (
                        currency,
                        month,
                        kind,
                        name,
                    )
            assert point["total"]["net"] == sum(sums["net"] for sums in expected.values())


def test_membership_counts(app, client, headers, members):
    body = client.get(URL, headers=headers).get_json()
    assert body["memberships"] == expected_membership_counts(app, members)


@pytest.mark.parametrize(
    "query",
    ["from=2031-02-01&to=2031-01-01", "from=someday", "months=36", "months=abc"],
)
def test_bad_arguments_are_422(client, headers, query):
    response = client.get(f"{URL}?{query}", headers=headers)
    assert response.status_code == 422
    assert response.get_json()["code"] == 422


def test_without_a_period_it_is_this_month(client, headers):
    body = client.get(URL, headers=headers).get_json()
    assert body["from"].endswith("-01")
    assert body["totals"][0]["currency"] == "EUR"
    assert body["totals"][0]["gross"] == 0


def test_the_summary_costs_the_same_queries_whatever_the_period(
    app, client, headers, count_selects
):
    _bulk(app, 5, utc(2029, 2, 1, 12))
    with count_selects() as short:
        assert (
            client.get(f"{URL}?from=2031-01-01&to=2031-01-31", headers=headers).status_code == 200
        )
    _bulk(app, 200, utc(2029, 2, 1, 12))
    with count_selects() as long:
        response = client.get(f"{URL}?from=2029-02-01&to=2031-01-31&months=24", headers=headers)
    assert response.status_code == 200
    with count_selects() as long_12:
        client.get(f"{URL}?from=2029-02-01&to=2031-01-31&months=12", headers=headers)
    assert len(long) == len(long_12) == len(short) + 3  # the series: paid, refunds, disputes


def test_the_schema_is_in_openapi(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/treasury/summary"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"from", "to", "months"} <= names
    schema = spec["components"]["schemas"]["Summary"]["properties"]
    assert {"by_kind", "totals", "series", "memberships", "failed", "disputes"} <= set(schema)

"""The treasurer's dashboard: figures equal to sums computed here from the seeded ledger
(described in dashboard_support.py), and the membership counts. The period form, the query
budget and the links are in test_dashboard_period.py.
"""

from __future__ import annotations

from datetime import date

from marketplace.payments.models import PaymentKind, PaymentStatus
from tests.treasury import dashboard_support
from tests.treasury.dashboard_support import (
    JANUARY,
    LEDGER,
    expected_membership_counts,
    expected_month,
    expected_sums,
    expected_totals,
    months_back,
    page,
)

# The seeded ledger and members of the dashboard tests.
ledger = dashboard_support.ledger
members = dashboard_support.members


# ---------------------------------------------------------------- the figures


def test_january_kpis_equal_the_ledger_summed_here(signed_in, ledger):
    _html, found = page(signed_in, JANUARY)
    start, end = date(2031, 1, 1), date(2031, 1, 31)
    assert found["period-heading"]["data-start"] == "2031-01-01"
    assert found["period-heading"]["data-end"] == "2031-01-31"
    totals = expected_totals(start, end)
    assert set(totals) == {"EUR"}  # one book, in euros
    sums = totals["EUR"]
    for name in ("gross", "fees", "refunds", "disputes", "dispute_fees", "net"):
        key = name.replace("_", "-")
        assert int(found[f"kpi-eur-{key}"]["data-value"]) == sums[name], name
    assert int(found["kpi-eur-count"]["data-value"]) == sums["count"]
    assert int(found["kpi-eur-refund-count"]["data-value"]) == sums["refund_count"]
    assert "kpi-usd-gross" not in found  # dollars are never summed as such
    # By kind.
    by_kind = expected_sums(start, end)
    for kind in PaymentKind:
        row = found[f"kind-eur-{kind.value}"]
        kind_sums = by_kind.get(("EUR", kind.value), {})
        for name in ("gross", "fees", "refunds", "disputes", "net", "count"):
            assert int(row[f"data-{name}"]) == kind_sums.get(name, 0), (kind, name)
    # A few figures written out, so the independent sums are checked too.
    assert sums["gross"] == 4000 + 1500 + 2500 + 50000 + 9900 + 10000 + 4600
    assert sums["refunds"] == 1104 + 736  # December's dollars, refunded in January, in euros
    assert (sums["disputes"], sums["dispute_fees"]) == (9900, 1500)
    # The dollars beside: both January payments, one of them not settled yet.
    original = found["original-usd"]
    assert (int(original["data-amount"]), int(original["data-settled"])) == (8000, 4600)
    assert (int(original["data-count"]), int(original["data-unsettled"])) == (2, 1)


def test_failed_payments_and_disputes_of_the_period(signed_in, ledger):
    _html, found = page(signed_in, JANUARY)
    failed = [row for row in LEDGER if row.status == PaymentStatus.FAILED]
    assert int(found["failed-count"]["data-value"]) == len(failed) == 2
    shown = {key for key in found if key.startswith("failed-") and key[7:].isdigit()}
    assert len(shown) == 2
    assert int(found["disputes-open"]["data-value"]) == 1
    assert int(found["disputes-in-period"]["data-value"]) == 1
    _html, february = page(signed_in, "?period=custom&start=2031-02-01&end=2031-02-28")
    assert int(february["failed-count"]["data-value"]) == 0
    assert int(february["disputes-in-period"]["data-value"]) == 0
    assert int(february["disputes-open"]["data-value"]) == 1  # still open, whatever the period


def test_the_monthly_series_stacks_kinds_with_zero_months(signed_in, ledger):
    _html, found = page(signed_in, JANUARY + "&months=24")
    assert "month-usd-2031-01" not in found
    for currency in ("EUR",):
        for month in months_back(date(2031, 1, 1), 24):
            row = found[f"month-{currency.lower()}-{month:%Y-%m}"]
            sums = expected_month(currency, month)
            for kind in PaymentKind:
                attribute = f"data-{kind.value.replace('_', '-')}"
                assert int(row[attribute]) == sums[kind.value]["gross"], (currency, month, kind)
            for name in ("gross", "fees", "refunds", "net"):
                assert int(row[f"data-{name}"]) == sum(s[name] for s in sums.values())
    # The summer-time boundary: 00:30 on 1 April in Paris is April, 23:30 the day before March.
    assert int(found["month-eur-2030-04"]["data-partner-plan"]) == 30000
    assert int(found["month-eur-2030-03"]["data-partner-plan"]) == 20000
    assert int(found["month-eur-2031-01"]["data-featured"]) == 2500 + 9900
    assert "month-eur-2029-01" not in found  # 24 months: February 2029 to January 2031
    assert "month-eur-2029-02" in found
    _html, twelve = page(signed_in, JANUARY + "&months=12")
    assert "month-eur-2030-02" in twelve
    assert "month-eur-2030-01" not in twelve


def test_the_chart_reads_its_data_from_a_json_block(signed_in, ledger):
    import json
    import re

    html, found = page(signed_in, JANUARY)
    assert "chart-eur" in found
    assert "chart-usd" not in found
    block = re.search(
        r'<script type="application/json" id="treasury-chart-data"[^>]*>(.*?)</script>',
        html,
        re.S,
    )
    data = json.loads(block.group(1))
    eur = next(chart for chart in data["charts"] if chart["currency"] == "EUR")
    assert len(eur["labels"]) == 12
    membership = next(series for series in eur["datasets"] if series["key"] == "membership")
    assert membership["data"][-1] == (4000 + 1500 + 10000 + 4600) / 100  # dollars in euros
    # No inline script: only the data block and the site's script files.
    assert "treasury-dashboard.js" in html
    assert re.findall(r"<script(?![^>]*(?:src=|application/json))", html) == []


def test_each_kind_links_to_the_filtered_payments_table(signed_in, ledger):
    html, _found = page(signed_in, JANUARY)
    assert "/treasury/payments?start=2031-01-01&amp;end=2031-01-31&amp;kind=partner_plan" in html
    assert "/treasury/payments?start=2031-01-01&amp;end=2031-01-31&amp;status=failed" in html


# ---------------------------------------------------------------- memberships


def test_membership_counts_follow_each_persons_status(app, signed_in, members):
    expected = expected_membership_counts(app, members)
    assert expected == {"active": 5, "grace": 3, "lapsed": 2, "ending_soon": 2}
    _html, found = page(signed_in)
    assert int(found["members-active"]["data-value"]) == expected["active"]
    assert int(found["members-grace"]["data-value"]) == expected["grace"]
    assert int(found["members-lapsed"]["data-value"]) == expected["lapsed"]
    assert int(found["members-ending-soon"]["data-value"]) == expected["ending_soon"]

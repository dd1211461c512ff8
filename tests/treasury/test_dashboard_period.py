"""The treasurer's dashboard: the period form, the query budget, access and links.

The figures are in test_dashboard.py; the seeded ledger in dashboard_support.py.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime

import pytest

from marketplace.extensions import db
from marketplace.payments.models import Payment, PaymentStatus
from marketplace.treasury import dashboard
from tests.treasury import dashboard_support
from tests.treasury.dashboard_support import (
    JANUARY,
    PARIS,
    _bulk,
    expected_totals,
    page,
    paris_day,
    utc,
)

# The seeded ledger of the dashboard tests.
ledger = dashboard_support.ledger


# ---------------------------------------------------------------- the period form


def test_without_arguments_the_page_shows_this_month_in_paris(signed_in):
    _html, found = page(signed_in)
    today = datetime.now(UTC).astimezone(PARIS).date()
    assert found["period-heading"]["data-start"] == today.replace(day=1).isoformat()
    assert "period-alert" not in found
    assert "no-money-eur" in found  # an empty ledger says so


@pytest.mark.parametrize(
    "query",
    [
        "?period=custom&start=2031-02-01&end=2031-01-01",  # reversed
        "?period=custom&start=2031-01-01",  # no end
        "?period=custom&start=yesterday&end=2031-01-31",  # not a date
        "?period=forever",  # not a preset
        "?period=this_month&months=36",  # not a chart length
        "?period=custom&start=1990-01-01&end=2031-01-01",  # too long
    ],
)
def test_a_bad_period_says_so_and_shows_this_month(signed_in, query):
    html, found = page(signed_in, query)
    assert "period-alert" in found
    assert found["period-alert"]["role"] == "alert"
    today = datetime.now(UTC).astimezone(PARIS).date()
    assert found["period-heading"]["data-start"] == today.replace(day=1).isoformat()
    assert 'aria-invalid="true"' in html


def test_dates_alone_make_a_custom_period(signed_in, ledger):
    _html, found = page(signed_in, "?start=2031-01-01&end=2031-01-31")
    assert found["period-heading"]["data-end"] == "2031-01-31"
    assert (
        int(found["kpi-eur-gross"]["data-value"])
        == expected_totals(date(2031, 1, 1), date(2031, 1, 31))["EUR"]["gross"]
    )


@pytest.mark.parametrize(
    ("preset", "start", "end"),
    [
        (dashboard.Preset.THIS_MONTH, date(2032, 3, 1), date(2032, 3, 31)),
        (dashboard.Preset.LAST_MONTH, date(2032, 2, 1), date(2032, 2, 29)),
        (dashboard.Preset.THIS_YEAR, date(2032, 1, 1), date(2032, 12, 31)),
        (dashboard.Preset.LAST_12_MONTHS, date(2031, 4, 1), date(2032, 3, 31)),
    ],
)
def test_presets(preset, start, end):
    period = dashboard.preset_period(preset, today=date(2032, 3, 15))
    assert (period.start, period.end) == (start, end)


def test_last_month_in_january_is_december():
    period = dashboard.preset_period(dashboard.Preset.LAST_MONTH, today=date(2032, 1, 10))
    assert (period.start, period.end) == (date(2031, 12, 1), date(2031, 12, 31))


def test_the_day_is_the_day_in_paris():
    assert dashboard.accounting_today(utc(2031, 1, 31, 23, 30)) == date(2031, 2, 1)


# ---------------------------------------------------------------- query budget


def test_the_page_runs_the_same_queries_whatever_the_period_and_the_rows(
    app, signed_in, count_selects
):
    _bulk(app, 5, utc(2029, 2, 1, 12))
    with count_selects() as short:
        page(signed_in, JANUARY + "&months=12")
    with count_selects() as long:
        page(signed_in, "?period=custom&start=2029-02-01&end=2031-01-31&months=24")
    _bulk(app, 200, utc(2029, 2, 1, 12))
    with count_selects() as many:
        page(signed_in, "?period=custom&start=2029-02-01&end=2031-01-31&months=24")
    with count_selects() as many_short:
        page(signed_in, JANUARY + "&months=12")
    assert len(short) == len(long) == len(many) == len(many_short)
    assert len(many) <= 15, many


def test_the_figures_of_many_rows_match_python_sums(app, signed_in):
    _bulk(app, 200, utc(2029, 2, 1, 12))
    with app.app_context():
        rows = db.session.scalars(
            db.select(Payment).where(Payment.status == PaymentStatus.PARTIALLY_REFUNDED)
        ).all()
        gross = defaultdict(int)
        for payment in rows:
            if date(2029, 2, 1) <= paris_day(payment.succeeded_at) <= date(2031, 1, 31):
                gross[payment.currency] += payment.amount
                gross["booked"] += payment.settled_amount
    _html, found = page(signed_in, "?period=custom&start=2029-02-01&end=2031-01-31&months=24")
    assert int(found["kpi-eur-gross"]["data-value"]) == gross["booked"]
    assert int(found["original-usd"]["data-amount"]) == gross["USD"]


# ---------------------------------------------------------------- access and links


def test_the_navigation_leads_treasurers_to_the_dashboard(signed_in):
    html = signed_in.get("/treasury/payments").get_data(as_text=True)
    assert 'href="/treasury/" id="nav-treasury"' in html


def test_a_treasurer_without_two_factor_is_sent_to_it(client, login, treasurer):
    login(client, treasurer, mfa=False)
    response = client.get("/treasury/")
    assert response.status_code == 302
    assert "/accounts/two-factor" in response.headers["Location"]


def test_the_fec_link_appears_once_its_export_exists(app, signed_in):
    _html, found = page(signed_in, JANUARY)
    if "treasury.fec_export" in app.view_functions:
        assert found["fec-download"]["href"] == "/treasury/exports/fec?year=2031"
    else:
        assert "fec-download" not in found

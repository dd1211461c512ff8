"""The treasury dashboard rendered once per ledger version (issue 17): a second load within a
version runs a bounded number of queries; a new payment moves the version and shows up."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from flask import template_rendered
from sqlalchemy import event

from marketplace.extensions import db
from marketplace.payments.models import PaymentKind
from tests.treasury.dashboard_support import elements

YEAR = "?period=custom&start=2031-01-01&end=2031-12-31"


@pytest.fixture
def signed_in(client, login, treasurer):
    return login(client, treasurer)


@contextmanager
def statements(app):
    with app.app_context():
        engine = db.engine
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _load(client, query: str = YEAR) -> tuple[str, dict[str, dict[str, str]]]:
    response = client.get(f"/treasury/{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    return html, elements(html)


def _chart(html: str) -> dict:
    start = html.index('id="treasury-chart-data"')
    body = html[html.index(">", start) + 1 : html.index("</script>", start)]
    return json.loads(body)


def test_a_second_load_runs_only_the_readers_query(app, signed_in, create_payment):
    create_payment(amount=4000, fee=100, created_at=datetime(2031, 3, 5, 10, tzinfo=UTC))
    first, found = _load(signed_in)
    assert int(found["kpi-eur-gross"]["data-value"]) == 4000
    with statements(app) as sent:
        again, found_again = _load(signed_in)
    # The signed-in treasurer (one query); the sums, counts, tables and chart are cached.
    assert len(sent) <= 2, sent
    assert not any("FROM payments" in statement for statement in sent)
    assert found_again["kpi-eur-gross"] == found["kpi-eur-gross"]
    assert _chart(again) == _chart(first)
    assert 'id="kinds-eur"' in again
    assert 'id="period-form"' in again


def test_a_new_payment_moves_the_version_and_shows_at_the_next_load(app, signed_in, create_payment):
    create_payment(amount=4000, fee=100, created_at=datetime(2031, 3, 5, 10, tzinfo=UTC))
    before, found = _load(signed_in)
    assert int(found["kpi-eur-count"]["data-value"]) == 1
    create_payment(
        kind=PaymentKind.PARTNER_PLAN,
        amount=25000,
        fee=400,
        created_at=datetime(2031, 6, 1, 9, tzinfo=UTC),
    )
    after, found = _load(signed_in)
    assert int(found["kpi-eur-count"]["data-value"]) == 2
    assert int(found["kpi-eur-gross"]["data-value"]) == 29000
    assert _chart(after) != _chart(before)


def test_each_period_has_its_own_rendering(signed_in, create_payment):
    create_payment(amount=4000, created_at=datetime(2031, 3, 5, 10, tzinfo=UTC))
    _html, year = _load(signed_in)
    _html, january = _load(signed_in, "?period=custom&start=2031-01-01&end=2031-01-31")
    assert int(year["kpi-eur-count"]["data-value"]) == 1
    assert int(january["kpi-eur-count"]["data-value"]) == 0
    assert january["period-heading"]["data-end"] == "2031-01-31"
    # A period refused is answered with the current month and its error, cached or not.
    for _ in range(2):
        html, found = _load(signed_in, "?period=custom&start=2031-02-01&end=2031-01-01")
        assert "period-alert" in found


def test_a_second_treasurer_gets_the_whole_page_without_a_query(
    app, page_cache, reader_cache, login, create_user, create_payment
):
    """The whole page once per kind of staff (marketplace/reader_pages.py): another treasurer
    gets it with their own name in the navigation and no query at all."""
    create_payment(amount=4000, fee=100, created_at=datetime(2031, 3, 5, 10, tzinfo=UTC))
    first = login(app.test_client(), create_user(roles=("treasurer",), full_name="Ines Alves"))
    second = login(app.test_client(), create_user(roles=("treasurer",), full_name="Joao Reis"))
    mine, found = _load(first)
    second.get("/treasury/?period=this-month")  # the second treasurer's row, cached
    db.session.expunge_all()  # each request starts with an empty session, as in production
    rendered: list[str] = []

    def record(sender, template, context, **extra):
        rendered.append(template.name)

    template_rendered.connect(record, app)
    try:
        with statements(app) as sent:
            theirs, found_again = _load(second)
    finally:
        template_rendered.disconnect(record, app)
    assert sent == []
    assert rendered == []  # no template rendered: the stored page, two strings spliced in
    assert found_again["kpi-eur-gross"] == found["kpi-eur-gross"]
    assert '<summary id="nav-me">Ines</summary>' in mine
    assert '<summary id="nav-me">Joao</summary>' in theirs
    assert "Ines" not in theirs

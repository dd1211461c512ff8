"""Treasury pages: the filtered ledger (constant query count) and a payment's detail."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import func, select

from marketplace.admin.forms import siret_is_valid
from marketplace.extensions import db
from marketplace.payments.document_snapshots import association_details
from marketplace.payments.models import AssociationDetails, PaymentKind, PaymentStatus
from marketplace.seed import DEMO_STEPS
from marketplace.treasury import services
from marketplace.treasury.demo import seed_association


def _ids(html: str) -> set[int]:
    return {int(value) for value in re.findall(r'id="payment-(\d+)"', html)}


def test_the_ledger_filters_by_period_kind_and_status(client, login, treasurer, create_payment):
    march = create_payment(created_at=datetime(2031, 3, 10, 12, tzinfo=UTC))
    april_featured = create_payment(
        kind=PaymentKind.FEATURED, created_at=datetime(2031, 4, 2, 9, tzinfo=UTC)
    )
    april_failed = create_payment(
        status=PaymentStatus.FAILED, created_at=datetime(2031, 4, 20, 9, tzinfo=UTC)
    )
    login(client, treasurer)

    everything = _ids(client.get("/treasury/payments").get_data(as_text=True))
    assert {march, april_featured, april_failed} <= everything

    april = client.get("/treasury/payments?start=2031-04-01&end=2031-04-30")
    assert _ids(april.get_data(as_text=True)) == {april_featured, april_failed}
    # The end day is included whole.
    one_day = client.get("/treasury/payments?start=2031-04-20&end=2031-04-20")
    assert _ids(one_day.get_data(as_text=True)) == {april_failed}

    featured = client.get("/treasury/payments?start=2031-01-01&kind=featured")
    assert _ids(featured.get_data(as_text=True)) == {april_featured}
    failed = client.get("/treasury/payments?start=2031-01-01&status=failed")
    assert _ids(failed.get_data(as_text=True)) == {april_failed}

    empty = client.get("/treasury/payments?start=2031-05-01&end=2031-05-31")
    assert 'id="no-payments"' in empty.get_data(as_text=True)


def test_a_bad_filter_value_is_ignored(client, login, treasurer, create_payment):
    payment_id = create_payment(created_at=datetime(2031, 3, 10, tzinfo=UTC))
    response = login(client, treasurer).get("/treasury/payments?start=not-a-date&kind=gift")
    assert response.status_code == 200
    assert payment_id in _ids(response.get_data(as_text=True))


def test_the_ledger_runs_the_same_queries_whatever_its_size(
    client, login, treasurer, create_payment, count_selects
):
    login(client, treasurer)
    create_payment(created_at=datetime(2032, 1, 5, tzinfo=UTC))
    with count_selects() as few:
        assert client.get("/treasury/payments?start=2032-01-01").status_code == 200
    for day in range(1, 21):
        create_payment(created_at=datetime(2032, 2, day, tzinfo=UTC), refunded=100)
    with count_selects() as many:
        response = client.get("/treasury/payments?start=2032-01-01")
    assert len(_ids(response.get_data(as_text=True))) == 21
    assert len(many) == len(few)


def test_the_ledger_is_paginated(client, login, treasurer, create_payment, monkeypatch):
    for day in range(1, 4):
        create_payment(created_at=datetime(2033, 1, day, tzinfo=UTC))
    login(client, treasurer)
    monkeypatch.setattr(services, "PAYMENTS_PER_PAGE", 2)
    first = client.get("/treasury/payments?start=2033-01-01").get_data(as_text=True)
    second = client.get("/treasury/payments?start=2033-01-01&page=2").get_data(as_text=True)
    assert len(_ids(first)) == 2
    assert len(_ids(second)) == 1
    assert 'rel="next"' in first
    assert "start=2033-01-01" in first  # the pager keeps the filters


def test_the_detail_shows_the_payment_and_the_refund_form(client, login, treasurer, create_payment):
    payment_id = create_payment(amount=4000, refunded=1000, status=PaymentStatus.PARTIALLY_REFUNDED)
    html = login(client, treasurer).get(f"/treasury/payments/{payment_id}").get_data(as_text=True)
    assert 'id="payment-amount">€40.00' in html
    assert 'id="refund-form"' in html
    assert "Up to €30.00 can be refunded." in html
    # Not numbered: no document link.
    assert 'id="document-link"' not in html


def test_a_failed_payment_offers_no_refund(client, login, treasurer, create_payment):
    payment_id = create_payment(status=PaymentStatus.FAILED)
    html = login(client, treasurer).get(f"/treasury/payments/{payment_id}").get_data(as_text=True)
    assert 'id="nothing-refundable"' in html
    assert 'id="refund-form"' not in html


def test_an_unknown_payment_is_404(client, login, treasurer):
    assert login(client, treasurer).get("/treasury/payments/999999999").status_code == 404


def test_the_demo_seed_adds_the_association_once(app):
    assert "association details" in [step.name for step in DEMO_STEPS]
    with app.app_context():
        assert seed_association() == 1
        assert seed_association() == 0
        db.session.flush()
        assert db.session.scalar(select(func.count(AssociationDetails.id))) == 1
        details = association_details()
        assert details.rna == "W751234567"
        assert siret_is_valid(details.siret)

"""The payments CSV: fees and refunds as their own lines, categories, totals, safety, streaming."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert

from marketplace.extensions import db
from marketplace.payments.models import Dispute, Payment, PaymentKind, PaymentStatus
from marketplace.treasury import exports

PERIOD = "start=2041-03-01&end=2041-03-31"


def _read(response) -> list[dict[str, str]]:
    body = response.get_data()
    assert body.startswith("\ufeff".encode())  # the BOM Excel needs to read UTF-8
    text = body.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


@pytest.fixture
def signed_in(client, login, treasurer):
    return login(client, treasurer)


@pytest.fixture
def march_ledger(create_payment, add_refund):
    """A month with known amounts: every kind, fees, refunds (one failed), a failed payment."""
    day = datetime(2041, 3, 10, 10, tzinfo=UTC)
    membership = create_payment(amount=4000, fee=85, created_at=day, document=(2041, 1))
    refunded = create_payment(
        amount=1500,
        fee=40,
        refunded=500,
        status=PaymentStatus.PARTIALLY_REFUNDED,
        created_at=day,
        document=(2041, 2),
    )
    add_refund(refunded, 500, created_at=datetime(2041, 3, 12, tzinfo=UTC), stripe_refund_id="re_A")
    add_refund(refunded, 300, status="failed")  # never booked
    plan = create_payment(kind=PaymentKind.PARTNER_PLAN, amount=50000, fee=750, created_at=day)
    featured = create_payment(kind=PaymentKind.FEATURED, amount=9900, fee=None, created_at=day)
    failed = create_payment(amount=9999, status=PaymentStatus.FAILED, created_at=day)
    create_payment(amount=7777, created_at=datetime(2041, 4, 1, 12, tzinfo=UTC))  # outside
    return {
        "payments": {membership: 4000, refunded: 1500, plan: 50000, featured: 9900, failed: 9999},
        "fees": 85 + 40 + 750,
        "refunds": 500,
        "ids": (membership, refunded, plan, featured, failed),
    }


def test_the_csv_totals_equal_the_ledger(signed_in, march_ledger):
    response = signed_in.get(f"/treasury/exports/payments.csv?{PERIOD}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = _read(response)
    assert list(rows[0]) == list(exports.CSV_COLUMNS)

    def total(line: str) -> int:
        return sum(int(row["amount_minor"]) for row in rows if row["line"] == line)

    assert total("payment") == sum(march_ledger["payments"].values())
    assert total("stripe_fee") == -march_ledger["fees"]
    assert total("refund") == -march_ledger["refunds"]
    assert {int(row["payment_id"]) for row in rows} == set(march_ledger["ids"])
    # The decimal column says the same as the minor units.
    for row in rows:
        assert row["amount"] == exports.format_decimal(int(row["amount_minor"]))
    # One line per fee, one per succeeded refund (the failed one is not a movement).
    assert sum(row["line"] == "stripe_fee" for row in rows) == 3
    assert sum(row["line"] == "refund" for row in rows) == 1


def test_every_line_has_a_category_and_an_account(signed_in, march_ledger):
    rows = _read(signed_in.get(f"/treasury/exports/payments.csv?{PERIOD}"))
    expected = {
        ("payment", "membership"): "756",
        ("payment", "partner_plan"): "7061",
        ("payment", "featured"): "7062",
        ("stripe_fee", "stripe_fees"): "627",
        ("refund", "membership"): "756",  # refunds debit the same revenue account
    }
    seen = {(row["line"], row["category"]): row["account"] for row in rows}
    assert seen == expected
    refund = next(row for row in rows if row["line"] == "refund")
    assert (refund["refund_id"] != "", refund["stripe_id"], refund["date"]) == (
        True,
        "re_A",
        "2041-03-12",
    )
    document = {row["document"] for row in rows if row["line"] == "payment"}
    assert "2041-000001" in document


def test_the_csv_filters_by_kind_and_status(signed_in, march_ledger):
    plans = _read(signed_in.get(f"/treasury/exports/payments.csv?{PERIOD}&kind=partner_plan"))
    assert {row["category"] for row in plans} == {"partner_plan", "stripe_fees"}
    failed = _read(signed_in.get(f"/treasury/exports/payments.csv?{PERIOD}&status=failed"))
    assert [row["amount_minor"] for row in failed] == ["9999"]
    empty = _read(signed_in.get("/treasury/exports/payments.csv?start=2041-06-01&end=2041-06-02"))
    assert empty == []


def test_formula_like_cells_are_neutralised(signed_in, create_payment):
    day = datetime(2041, 5, 5, tzinfo=UTC)
    create_payment(payer_name='=HYPERLINK("http://evil.example","x")', fee=30, created_at=day)
    create_payment(payer_name="-2+3", created_at=day)
    create_payment(payer_name="@SUM(A1)", payer_email="+33@example.org", created_at=day)
    create_payment(payer_name="\tTab", created_at=day)
    rows = _read(signed_in.get("/treasury/exports/payments.csv?start=2041-05-05&end=2041-05-05"))
    payers = {row["payer"] for row in rows}
    assert payers == {'\'=HYPERLINK("http://evil.example","x")', "'-2+3", "'@SUM(A1)", "'\tTab"}
    assert "'+33@example.org" in {row["email"] for row in rows}
    # Amounts we write stay numbers, negative ones included.
    assert "-0,30" in {row["amount"] for row in rows}


def test_safe_cell_rules():
    assert exports.safe_cell("=1+1") == "'=1+1"
    assert exports.safe_cell("\rx") == "'\rx"
    assert exports.safe_cell("-12,50") == "-12,50"
    assert exports.safe_cell("-12,50 EUR") == "'-12,50 EUR"
    assert exports.safe_cell("Léa") == "Léa"
    assert exports.safe_cell(None) == ""


def test_the_csv_is_streamed_with_a_constant_number_of_queries(
    app, signed_in, create_payment, count_selects
):
    create_payment(amount=100, fee=1, created_at=datetime(2042, 7, 1, tzinfo=UTC))
    url = "/treasury/exports/payments.csv?start=2042-07-01&end=2042-07-31"
    with count_selects() as few:
        small = signed_in.get(url)
        assert small.is_streamed
        small_rows = _read(small)
    assert len(small_rows) == 2
    moment = datetime(2042, 7, 2, tzinfo=UTC)
    rows = [
        {
            "kind": PaymentKind.MEMBERSHIP,
            "status": PaymentStatus.SUCCEEDED,
            "amount": 1000 + index,
            "currency": "EUR",
            "payer_name": f"Payer {index}",
            "subject": {},
            "description": "Cotisation",
            "created_at": moment,
            "updated_at": moment,
            "succeeded_at": moment,
            "stripe_fee": 10,
            "refunded_amount": 0,
            "off_session": False,
        }
        for index in range(5000)
    ]
    with app.app_context():
        db.session.execute(insert(Payment), rows)
        db.session.commit()
    with count_selects() as many:
        large = signed_in.get(url)
        assert large.is_streamed
        large_rows = _read(large)
    assert len(large_rows) == 2 + 2 * 5000  # no row cap
    assert sum(int(row["amount_minor"]) for row in large_rows if row["line"] == "payment") == (
        100 + sum(1000 + index for index in range(5000))
    )
    assert len(many) == len(few)


def test_the_exports_page_links_both_files(signed_in):
    html = signed_in.get("/treasury/exports").get_data(as_text=True)
    assert 'id="csv-form"' in html
    assert 'id="fec-form"' in html
    assert "/treasury/exports/fec" in html


def test_the_csv_declares_one_charset(signed_in):
    response = signed_in.get(f"/treasury/exports/payments.csv?{PERIOD}")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"


def test_the_csv_carries_disputes_and_the_euros_stripe_settled(app, signed_in, create_payment):
    """Like the FEC: each line also says what it moved in the Stripe balance in euros, and a
    dispute's withdrawal, fee and reinstatement are lines of their own."""
    day = datetime(2041, 8, 3, 9, tzinfo=UTC)
    dollars = create_payment(amount=5000, currency="USD", fee=94, created_at=day)
    yen = create_payment(amount=1500, currency="JPY", fee=None, created_at=day)
    lost = create_payment(amount=4000, fee=85, created_at=day, status=PaymentStatus.DISPUTED)
    won = create_payment(amount=2000, fee=55, created_at=day, status=PaymentStatus.DISPUTED)
    failed = create_payment(amount=9999, status=PaymentStatus.FAILED, created_at=day)
    with app.app_context():
        paid = db.session.get(Payment, dollars)
        paid.settled_amount, paid.settled_currency = 4600, "EUR"
        for payment_id, amount, status, back in ((lost, 4000, "lost", 0), (won, 2000, "won", 2000)):
            db.session.add(
                Dispute(
                    payment_id=payment_id,
                    stripe_dispute_id=f"dp_csv_{payment_id}",
                    amount=amount,
                    currency="eur",
                    status=status,
                    settled_currency="EUR",
                    withdrawn_amount=amount,
                    withdrawn_fee=1500,
                    withdrawn_at=datetime(2041, 8, 10, tzinfo=UTC),
                    reinstated_amount=back,
                    reinstated_at=datetime(2041, 8, 20, tzinfo=UTC) if back else None,
                )
            )
        db.session.commit()
    rows = _read(signed_in.get("/treasury/exports/payments.csv?start=2041-08-01&end=2041-08-31"))

    def line(payment_id: int, kind: str) -> dict[str, str]:
        [found] = [r for r in rows if r["payment_id"] == str(payment_id) and r["line"] == kind]
        return found

    usd = line(dollars, "payment")
    assert (usd["amount"], usd["currency"], usd["amount_eur"], usd["amount_eur_minor"]) == (
        "50,00",
        "USD",
        "46,00",
        "4600",
    )
    assert line(dollars, "stripe_fee")["amount_eur_minor"] == "-94"
    # A zero-decimal currency keeps its own units; not settled yet, so no euros.
    assert (line(yen, "payment")["amount"], line(yen, "payment")["amount_eur"]) == ("1500", "")
    assert line(failed, "payment")["amount_eur"] == ""  # no money moved
    lost_line = line(lost, "dispute")
    assert (lost_line["date"], lost_line["account"], lost_line["amount_eur_minor"]) == (
        "2041-08-10",
        "658",
        "-4000",
    )
    assert line(lost, "dispute_fee")["account"] == "627"
    assert line(lost, "dispute_fee")["amount_eur_minor"] == "-1500"
    assert line(won, "dispute_reinstated")["amount_eur_minor"] == "2000"
    assert line(won, "dispute_reinstated")["date"] == "2041-08-20"
    moved = sum(int(r["amount_eur_minor"]) for r in rows if r["amount_eur_minor"])
    assert moved == (4600 - 94) + (4000 - 85 - 4000 - 1500) + (2000 - 55 - 2000 - 1500 + 2000)

"""The FEC file checked against the column specification (article A47 A-1 LPF) and the ledger."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from marketplace.extensions import db
from marketplace.payments.document_models import Document
from marketplace.payments.models import AssociationDetails, Payment, PaymentKind, PaymentStatus
from marketplace.treasury import exports
from marketplace.treasury.models import Payout
from tests.partners import conftest as partner_fixtures

create_partner = partner_fixtures.create_partner

YEAR = 2043
SPEC_COLUMNS = [
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
]
AMOUNT = re.compile(r"\d+,\d{2}")
DAY = re.compile(r"\d{8}")


def cents(text: str) -> int:
    return int(Decimal(text.replace(",", ".")) * 100)


def parse(response) -> list[dict[str, str]]:
    """The FEC's lines, each checked against the specification's shape."""
    text = response.get_data().decode("iso-8859-15")
    assert text.endswith("\r\n")
    lines = text[:-2].split("\r\n")
    assert lines[0].split("|") == SPEC_COLUMNS
    rows = []
    for line in lines[1:]:
        fields = line.split("|")
        assert len(fields) == 18, line
        row = dict(zip(SPEC_COLUMNS, fields, strict=True))
        for name in ("EcritureDate", "PieceDate", "ValidDate"):
            assert DAY.fullmatch(row[name]), row
            datetime.strptime(row[name], "%Y%m%d")
        assert AMOUNT.fullmatch(row["Debit"]), row
        assert AMOUNT.fullmatch(row["Credit"]), row
        assert (cents(row["Debit"]) == 0) != (cents(row["Credit"]) == 0), row  # one side only
        for name in ("JournalCode", "JournalLib", "EcritureNum", "CompteNum", "CompteLib"):
            assert row[name], (name, row)
        rows.append(row)
    return rows


@pytest.fixture
def signed_in(client, login, treasurer):
    return login(client, treasurer)


@pytest.fixture
def year_ledger(app, create_payment, add_refund):
    """A year with known amounts, its edges in Paris time, and a payout."""
    # 31 December 23:30 UTC is 1 January 00:30 in Paris: this year's.
    create_payment(
        amount=4000,
        fee=85,
        created_at=datetime(YEAR - 1, 12, 31, 23, 30, tzinfo=UTC),
        document=(YEAR, 1),
    )
    refunded = create_payment(
        amount=1500,
        fee=40,
        refunded=500,
        status=PaymentStatus.PARTIALLY_REFUNDED,
        created_at=datetime(YEAR, 3, 10, tzinfo=UTC),
        payer_name="Zoé | Pipe",
    )
    add_refund(refunded, 500, created_at=datetime(YEAR, 3, 20, tzinfo=UTC))
    add_refund(refunded, 200, status="failed")
    create_payment(
        kind=PaymentKind.PARTNER_PLAN,
        amount=50000,
        fee=750,
        created_at=datetime(YEAR, 6, 1, tzinfo=UTC),
    )
    create_payment(
        kind=PaymentKind.FEATURED, amount=9900, created_at=datetime(YEAR, 6, 2, tzinfo=UTC)
    )
    create_payment(
        amount=9999, status=PaymentStatus.FAILED, created_at=datetime(YEAR, 6, 3, tzinfo=UTC)
    )
    # 31 December 23:30 UTC of this year is next year's in Paris: left out.
    create_payment(amount=7777, created_at=datetime(YEAR, 12, 31, 23, 30, tzinfo=UTC))
    with app.app_context():
        db.session.add(
            Payout(
                stripe_payout_id="po_fec",
                amount=30000,
                currency="eur",
                status="paid",
                arrival_date=datetime(YEAR, 6, 15, tzinfo=UTC),
            )
        )
        db.session.commit()
    return {
        "sales": {"756": 4000 + 1500, "7061": 50000, "7062": 9900},
        "fees": 85 + 40 + 750,
        "refunds": 500,
        "payout": 30000,
    }


def test_the_fec_follows_the_column_specification(signed_in, year_ledger):
    response = signed_in.get(f"/treasury/exports/fec?year={YEAR}")
    assert response.status_code == 200
    assert response.is_streamed
    rows = parse(response)
    # Every entry balances; entries are numbered 1, 2, 3... in date order.
    by_entry: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_entry[row["EcritureNum"]].append(row)
    for number, lines in by_entry.items():
        assert sum(cents(line["Debit"]) for line in lines) == sum(
            cents(line["Credit"]) for line in lines
        ), number
        assert len({line["EcritureDate"] for line in lines}) == 1
    assert sorted(int(number) for number in by_entry) == list(range(1, len(by_entry) + 1))
    order = [rows[0]["EcritureDate"]] + [row["EcritureDate"] for row in rows]
    assert order == sorted(order)
    assert all(row["EcritureDate"].startswith(str(YEAR)) for row in rows)
    assert sum(cents(row["Debit"]) for row in rows) == sum(cents(row["Credit"]) for row in rows)
    # No field carries the separator: the payer's "|" did not add a column.
    assert any("Zoé" in row["EcritureLib"] for row in rows)


def test_the_fec_amounts_match_the_ledger(signed_in, year_ledger):
    rows = parse(signed_in.get(f"/treasury/exports/fec?year={YEAR}"))
    debit: dict[str, int] = defaultdict(int)
    credit: dict[str, int] = defaultdict(int)
    for row in rows:
        debit[row["CompteNum"]] += cents(row["Debit"])
        credit[row["CompteNum"]] += cents(row["Credit"])
    for account, amount in year_ledger["sales"].items():
        assert credit[account] == amount, account
    assert debit["756"] == year_ledger["refunds"]  # the refund debits the revenue account
    assert debit["627"] == year_ledger["fees"]
    assert debit["512"] == year_ledger["payout"]
    gross = sum(year_ledger["sales"].values())
    assert debit["467"] == gross
    assert credit["467"] == year_ledger["fees"] + year_ledger["refunds"] + year_ledger["payout"]
    journals = {(row["JournalCode"], row["CompteNum"]) for row in rows}
    assert ("BQ", "512") in journals
    assert ("ST", "627") in journals
    first = rows[0]
    assert (first["EcritureDate"], first["PieceRef"]) == (f"{YEAR}0101", f"{YEAR}-000001")


def test_the_file_name_is_siren_fec_closing_date(app, signed_in, year_ledger):
    anonymous = signed_in.get(f"/treasury/exports/fec?year={YEAR}")
    anonymous.close()  # the stream is not read here
    assert f'filename="000000000FEC{YEAR}1231.txt"' in anonymous.headers["Content-Disposition"]
    with app.app_context():
        db.session.add(AssociationDetails(name="Asso", address="Paris", siret="12345678200010"))
        db.session.commit()
    named = signed_in.get(f"/treasury/exports/fec?year={YEAR}")
    named.close()
    assert f'filename="123456782FEC{YEAR}1231.txt"' in named.headers["Content-Disposition"]


def test_a_year_without_entries_has_only_the_header(signed_in):
    assert parse(signed_in.get("/treasury/exports/fec?year=2099")) == []


def test_a_bad_year_goes_back_to_the_exports_page(signed_in):
    response = signed_in.get("/treasury/exports/fec?year=abc")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/treasury/exports")


def test_the_fec_is_streamed_with_a_constant_number_of_queries(
    app, signed_in, create_payment, count_selects
):
    create_payment(amount=100, fee=1, created_at=datetime(2044, 2, 1, tzinfo=UTC))
    with count_selects() as few:
        small = parse(signed_in.get("/treasury/exports/fec?year=2044"))
    assert len(small) == 4
    moment = datetime(2044, 2, 2, tzinfo=UTC)
    with app.app_context():
        db.session.execute(
            insert(Payment),
            [
                {
                    "kind": PaymentKind.PARTNER_PLAN,
                    "status": PaymentStatus.SUCCEEDED,
                    "amount": 2000,
                    "currency": "EUR",
                    "payer_name": f"Partner {index}",
                    "subject": {},
                    "description": "Plan",
                    "created_at": moment,
                    "updated_at": moment,
                    "succeeded_at": moment,
                    "stripe_fee": 30,
                    "refunded_amount": 0,
                    "off_session": False,
                }
                for index in range(5000)
            ],
        )
        db.session.commit()
    with count_selects() as many:
        large = parse(signed_in.get("/treasury/exports/fec?year=2044"))
    assert len(large) == 4 + 4 * 5000
    assert len(many) == len(few)
    assert sum(cents(row["Debit"]) for row in large) == 101 + 5000 * 2030


def test_entries_are_generated_balanced():
    """The generator alone: two lines per entry, debit then credit of the same amount."""
    assert exports.format_decimal(0) == "0,00"
    assert exports.format_decimal(123456) == "1234,56"
    assert exports.format_decimal(-5) == "-0,05"


def test_the_fec_declares_one_charset(signed_in):
    response = signed_in.get("/treasury/exports/fec?year=2099")
    assert response.headers["Content-Type"] == "text/plain; charset=iso-8859-15"


def test_the_fec_defaults_to_the_last_year_with_entries(signed_in, create_payment):
    create_payment(amount=4000, created_at=datetime(2031, 5, 1, tzinfo=UTC))
    # 22:00 UTC on 31 December is still that year in Paris, the accounting zone.
    create_payment(amount=2500, created_at=datetime(2032, 12, 31, 22, 0, tzinfo=UTC))
    # A failed payment is no entry.
    create_payment(
        amount=9999, status=PaymentStatus.FAILED, created_at=datetime(2035, 1, 1, tzinfo=UTC)
    )

    page = signed_in.get("/treasury/exports").get_data(as_text=True)
    assert re.search(r'name="year"[^>]*value="2032"', page)
    response = signed_in.get("/treasury/exports/fec")
    assert "2032" in response.headers["Content-Disposition"]


def test_without_any_entry_the_fec_form_offers_last_year(signed_in):
    from marketplace.treasury.export_views import _this_year

    page = signed_in.get("/treasury/exports").get_data(as_text=True)
    assert re.search(rf'name="year"[^>]*value="{_this_year() - 1}"', page)


def test_credit_notes_and_company_names_reach_the_fec(app, signed_in, create_partner):
    """A partner's sale is labelled with the company's legal name (its invoice's buyer, not the
    person who paid) and a refund is booked with the credit note issued for it."""
    from marketplace.payments import documents, gateway, refunds
    from marketplace.payments.models import Refund

    team = create_partner("Librairie FEC")
    moment = datetime(YEAR + 1, 3, 10, 12, tzinfo=UTC)
    with app.app_context():
        db.session.add(
            AssociationDetails(
                name="Amicale",
                address="1 rue",
                postal_code="75001",
                city="Paris",
                siret="12345678200010",
            )
        )
        payment = Payment(
            kind=PaymentKind.FEATURED,
            status=PaymentStatus.SUCCEEDED,
            amount=4900,
            currency="eur",
            payer_id=team.owner.id,
            payer_name="Olga Owner",
            payer_email=team.owner.email,
            partner_id=team.partner_id,
            subject={"plan": "f7", "days": 7},
            description="x",
            succeeded_at=moment,
            stripe_payment_intent_id="pi_fec_credit",
        )
        db.session.add(payment)
        db.session.flush()
        invoice = documents.issue_payment_document(payment, at=moment)
        refund = Refund(
            payment_id=payment.id,
            amount=2000,
            reason="geste",
            status="pending",
            created_at=moment.replace(day=12),
        )
        db.session.add(refund)
        db.session.flush()
        info = gateway.RefundInfo(
            id="re_fec_credit",
            amount=2000,
            status="succeeded",
            charge=None,
            payment_intent="pi_fec_credit",
        )
        refunds.record_stripe_refund(payment, info, refund)
        db.session.commit()
        documents.issue_due_documents()
        credit = db.session.scalar(select(Document).where(Document.refund_id == refund.id))
        numbers = invoice.number, credit.number
    rows = parse(signed_in.get(f"/treasury/exports/fec?year={YEAR + 1}"))
    sale = [row for row in rows if row["PieceRef"] == numbers[0]]
    assert {row["CompteNum"] for row in sale} == {"467", "7062"}
    assert all(row["EcritureLib"] == "Mise en avant Librairie FEC Lda" for row in sale)
    refunded = [row for row in rows if row["PieceRef"] == numbers[1]]
    assert {(row["CompteNum"], cents(row["Debit"]), cents(row["Credit"])) for row in refunded} == {
        ("7062", 2000, 0),
        ("467", 0, 2000),
    }
    assert all(
        row["EcritureLib"] == f"Avoir {numbers[1]} sur {numbers[0]} Librairie FEC Lda"
        for row in refunded
    )
    assert not any("Olga Owner" in row["EcritureLib"] for row in rows)

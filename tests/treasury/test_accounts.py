"""The chart of accounts: defaults in code, set by admins only, audited, used by the exports."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from marketplace.audit import AuditLog
from marketplace.extensions import db
from marketplace.treasury import accounting
from marketplace.treasury.models import AccountingAccount


def test_the_defaults_come_from_code(app):
    with app.app_context():
        chart = accounting.chart()
    assert {key: account.number for key, account in chart.items()} == {
        "membership": "756",
        "partner_plan": "7061",
        "featured": "7062",
        "stripe_fees": "627",
        "bank": "512",
        "stripe_clearing": "467",
        "disputes": "658",
    }


def test_an_admin_sets_an_account_and_the_exports_follow(
    app, client, login, create_user, create_payment
):
    admin = create_user(roles=("admin",))
    login(client, admin)
    page = client.get("/treasury/accounts")
    assert page.status_code == 200
    assert 'id="account-membership" data-number="756"' in page.get_data(as_text=True)
    response = client.post(
        "/treasury/accounts/membership",
        data={
            "membership-key": "membership",
            "membership-number": "7561",
            "membership-label": "Cotisations des membres",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        row = db.session.scalar(
            select(AccountingAccount).where(AccountingAccount.key == "membership")
        )
        assert (row.number, row.label) == ("7561", "Cotisations des membres")
        audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "accounting.account"))
        assert audit.actor_id == admin.id
        assert (audit.details["previous_number"], audit.details["number"]) == ("756", "7561")
    assert 'data-number="7561"' in client.get("/treasury/accounts").get_data(as_text=True)

    create_payment(amount=4000, created_at=datetime(2045, 1, 5, tzinfo=UTC))
    fec = client.get("/treasury/exports/fec?year=2045").get_data().decode("iso-8859-15")
    assert "|7561|Cotisations des membres|" in fec
    assert "|756|" not in fec
    csv_text = client.get(
        "/treasury/exports/payments.csv?start=2045-01-01&end=2045-01-31"
    ).get_data(as_text=True)
    assert ";7561;Cotisations des membres;" in csv_text


def test_a_bad_account_number_is_refused(app, client, login, create_user):
    login(client, create_user(roles=("admin",)))
    response = client.post(
        "/treasury/accounts/bank",
        data={"bank-key": "bank", "bank-number": "51 2=", "bank-label": "Banque"},
    )
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(AccountingAccount.id)) is None


def test_an_unknown_category_changes_nothing(app, client, login, create_user):
    login(client, create_user(roles=("admin",)))
    response = client.post(
        "/treasury/accounts/gifts", data={"gifts-key": "gifts", "gifts-number": "1"}
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(AccountingAccount.id)) is None


def test_only_admins_set_the_chart(app, client, login, create_user):
    login(client, create_user(roles=("treasurer",)))
    assert client.get("/treasury/accounts").status_code == 403
    response = client.post(
        "/treasury/accounts/bank",
        data={"bank-key": "bank", "bank-number": "5121", "bank-label": "Banque"},
    )
    assert response.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(AccountingAccount.id)) is None

"""marketplace/money.py: the currency table, minor units, the reader's money format, and
prices of tiers and plans typed in the currency's own units (issue 12, finding 8)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask import render_template_string
from flask_babel import force_locale
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.membership.models import MembershipTier
from marketplace.money import (
    NotWholeMinorUnits,
    UnknownCurrency,
    exponent,
    format_money,
    from_minor,
    offered_currencies,
    to_minor,
)
from partners.models import PartnerPlan


def plain(text: str) -> str:
    """Babel's no-break spaces as plain ones, for readable assertions."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


@pytest.mark.parametrize(
    ("code", "digits"),
    [("EUR", 2), ("usd", 2), ("JPY", 0), ("XOF", 0), ("XAF", 0), ("KRW", 0), ("KWD", 3)],
)
def test_the_table_knows_each_currencys_minor_unit(code, digits):
    assert exponent(code) == digits


@pytest.mark.parametrize(
    ("amount", "code", "minor"),
    [
        (Decimal("15.00"), "EUR", 1500),
        (Decimal("12.5"), "eur", 1250),
        (1500, "JPY", 1500),
        (Decimal("1500"), "XOF", 1500),
        (Decimal("5.120"), "KWD", 5120),
        ("49", "USD", 4900),
    ],
)
def test_to_minor_and_back(amount, code, minor):
    assert to_minor(amount, code) == minor
    assert from_minor(minor, code) == Decimal(str(amount))


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (Decimal("1.5"), "JPY"),  # no half yen
        (Decimal("12.345"), "EUR"),  # no tenth of a cent
        (Decimal("5.125"), "KWD"),  # three-decimal amounts end in 0 at Stripe
        ("NaN", "EUR"),
    ],
)
def test_amounts_finer_than_the_currency_are_refused(amount, code):
    with pytest.raises(NotWholeMinorUnits):
        to_minor(amount, code)


def test_an_unknown_currency_is_refused():
    with pytest.raises(UnknownCurrency):
        to_minor(Decimal("10"), "EURO")


def test_format_money_speaks_the_readers_language(app):
    with app.test_request_context("/"):
        assert plain(format_money(1500, "eur", locale="fr")) == "15,00 €"
        assert format_money(1500, "EUR", locale="en") == "€15.00"
        assert plain(format_money(1500, "jpy", locale="fr")) == "1 500 JPY"
        assert plain(format_money(123456, "EUR", locale="fr")) == "1 234,56 €"
        assert plain(format_money(-2000, "EUR", locale="fr")) == "-20,00 €"
        with force_locale("fr"):
            assert plain(format_money(1500, "EUR")) == "15,00 €"
        with force_locale("en"):
            assert format_money(1500, "EUR") == "€15.00"


def test_the_money_filter_and_global_in_templates(app):
    with app.test_request_context("/"), force_locale("fr"):
        rendered = render_template_string("{{ 4000|money('eur') }} / {{ money(250, 'EUR') }}")
    assert plain(rendered) == "40,00 € / 2,50 €"


def test_a_tier_priced_in_yen_is_stored_in_yen_not_in_hundredths(app, client, login, create_user):
    admin = create_user("money-admin@example.org", roles=("admin",), locale="en")
    login(client, admin, mfa=True)
    form = {
        "code": "tokyo",
        "name_fr": "Tokyo",
        "name_en": "Tokyo",
        "amount": "1500",
        "currency": "JPY",
        "months": "12",
        "position": "1",
        "active": "y",
    }
    assert client.post("/admin/tiers", data=form).status_code == 302
    half_yen = client.post("/admin/tiers", data={**form, "code": "osaka", "amount": "10.5"})
    assert half_yen.status_code == 422
    assert "at most 0 decimals" in half_yen.get_data(as_text=True)
    with app.app_context():
        tier = db.session.scalar(select(MembershipTier).where(MembershipTier.code == "tokyo"))
        assert (tier.amount, tier.currency) == (1500, "JPY")  # not 150000
        assert (
            db.session.scalar(select(MembershipTier).where(MembershipTier.code == "osaka")) is None
        )


def test_a_partner_plan_is_priced_in_euros(app, client, login, create_user):
    """Partner plans are invoiced in France (VAT, the 40 € indemnity, the FEC): a plan in CFA
    francs is refused with the reason, the same plan in euros is stored in cents."""
    admin = create_user("plans-money@example.org", roles=("admin",), locale="en")
    login(client, admin, mfa=True)
    form = {
        "code": "dakar",
        "kind": "partnership",
        "name_fr": "Partenariat Dakar",
        "name_en": "Dakar partnership",
        "description_fr": "",
        "description_en": "",
        "amount": "65000",
        "currency": "xof",
        "days": "365",
        "position": "1",
        "active": "y",
    }
    refused = client.post("/admin/partner-plans/", data=form)
    assert refused.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(PartnerPlan).where(PartnerPlan.code == "dakar")) is None
    form.update(amount="99.50", currency="eur")
    assert client.post("/admin/partner-plans/", data=form).status_code == 302
    with app.app_context():
        plan = db.session.scalar(select(PartnerPlan).where(PartnerPlan.code == "dakar"))
        assert (plan.amount, plan.currency.upper()) == (9950, "EUR")


def test_admins_restrict_the_currencies_offered(app, client, login, create_user):
    admin = create_user("restrict-admin@example.org", roles=("admin",), locale="en")
    login(client, admin, mfa=True)
    previous = app.config["PAYMENT_CURRENCIES"]
    app.config["PAYMENT_CURRENCIES"] = ["XOF", "EUR"]
    try:
        assert offered_currencies(app) == ["EUR", "XOF"]
        page = client.get("/admin/tiers").get_data(as_text=True)
        assert '<option value="XOF">' in page
        assert '<option value="USD">' not in page
        refused = client.post(
            "/admin/tiers",
            data={
                "code": "nyc",
                "name_fr": "New York",
                "name_en": "New York",
                "amount": "50",
                "currency": "USD",
                "months": "12",
                "position": "1",
                "active": "y",
            },
        )
        assert refused.status_code == 422
    finally:
        app.config["PAYMENT_CURRENCIES"] = previous


def test_an_unknown_currency_in_the_setting_stops_the_start(tmp_path):
    from marketplace.config import ConfigError, build_config

    with pytest.raises(ConfigError):
        build_config(str(tmp_path), {"PAYMENT_CURRENCIES": "EUR, EURO"})
    assert build_config(str(tmp_path), {"PAYMENT_CURRENCIES": "eur, xof"})[
        "PAYMENT_CURRENCIES"
    ] == ["EUR", "XOF"]

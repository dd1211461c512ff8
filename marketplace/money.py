"""Money: the currency table, minor units from and to decimals, one formatter for the reader.

Amounts are integers in the minor unit Stripe's API expects for the currency
(https://docs.stripe.com/currencies#minor-units): cents for EUR, the yen itself for JPY
(zero-decimal), thousandths of a dinar for KWD (three-decimal). The table below is the list
of currencies the site may charge in; a currency it does not name is refused, so a price
typed as ``1500`` XOF is never charged a hundred times over.

``format_money(1500, "eur")`` gives ``15,00 €`` to a French reader and ``€15.00`` to an
English one (Babel, the reader's locale); templates use the ``money`` filter
(``{{ payment.amount|money(payment.currency) }}``) or the global of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_currency
from flask import Flask, current_app, has_app_context
from flask_babel import get_locale
from flask_babel import gettext as _


@dataclass(frozen=True)
class Currency:
    """A currency the site may charge in: ISO code, API exponent, and the smallest step.

    ``exponent`` is the number of decimals Stripe's API amounts carry; ``step`` is the minor
    amount every charge must be a multiple of (10 for three-decimal currencies, whose last
    digit must be 0; 100 for ISK, charged as two-decimal amounts of whole krónur).
    """

    code: str
    exponent: int
    step: int = 1


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# https://docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL = _codes("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF")
# https://docs.stripe.com/currencies#three-decimal : amounts end in 0.
THREE_DECIMAL = _codes("BHD JOD KWD OMR TND")
# Two-decimal currencies the association's 130 countries pay in (Stripe presentment currencies).
TWO_DECIMAL = _codes(
    "AED ARS AUD BGN BRL CAD CHF CNY COP CZK DKK DZD EGP EUR GBP HKD HUF IDR ILS INR LBP MAD MUR "
    "MXN MYR NOK NZD PEN PHP PLN QAR RON SAR SEK SGD THB TRY TWD USD ZAR"
)

CURRENCIES: dict[str, Currency] = {
    **{code: Currency(code, 0) for code in ZERO_DECIMAL},
    **{code: Currency(code, 3, step=10) for code in THREE_DECIMAL},
    **{code: Currency(code, 2) for code in TWO_DECIMAL},
    # ISK is zero-decimal, but Stripe keeps two-decimal amounts for it (a multiple of 100).
    "ISK": Currency("ISK", 2, step=100),
}

# The association's own currency: what Stripe settles in and what the books are kept in.
HOME_CURRENCY = "EUR"


class UnknownCurrency(ValueError):
    """A currency code the table does not know (the site cannot charge in it)."""


class NotWholeMinorUnits(ValueError):
    """An amount with more decimals than its currency has (``1.5`` yen, ``12.345`` euros)."""


def currency(code: str) -> Currency:
    """The table's entry for ``code`` (any case); ``UnknownCurrency`` if it has none."""
    found = CURRENCIES.get((code or "").strip().upper())
    if found is None:
        raise UnknownCurrency(code)
    return found


def is_known(code: str | None) -> bool:
    """Whether the site can charge in ``code``."""
    return (code or "").strip().upper() in CURRENCIES


def exponent(code: str) -> int:
    """Decimals of ``code``'s API amounts (2 for EUR, 0 for JPY and XOF, 3 for KWD)."""
    return currency(code).exponent


def to_minor(amount: Decimal | int | str, code: str) -> int:
    """``Decimal("15.00")`` EUR → 1500; ``1500`` XOF → 1500; refuses what is not whole.

    Raises ``NotWholeMinorUnits`` for an amount finer than the currency (or its step) allows
    and ``UnknownCurrency`` for a code outside the table.
    """
    entry = currency(code)
    try:
        value = Decimal(str(amount))
    except InvalidOperation as error:
        raise NotWholeMinorUnits(str(amount)) from error
    if not value.is_finite():
        raise NotWholeMinorUnits(str(amount))
    minor = value.scaleb(entry.exponent)
    if minor != minor.to_integral_value():
        raise NotWholeMinorUnits(str(amount))
    result = int(minor)
    if result % entry.step:
        raise NotWholeMinorUnits(str(amount))
    return result


def from_minor(amount: int, code: str) -> Decimal:
    """1500 EUR → ``Decimal("15.00")``; 1500 JPY → ``Decimal("1500")``."""
    entry = currency(code)
    quantum = Decimal(1).scaleb(-entry.exponent)
    return (Decimal(int(amount)).scaleb(-entry.exponent)).quantize(quantum, ROUND_HALF_UP)


def _locale(locale: str | None) -> str:
    if locale:
        return locale
    if has_app_context():
        current = get_locale()
        if current is not None:
            return str(current)
        return str(current_app.config.get("BABEL_DEFAULT_LOCALE", "fr"))
    return "fr"


def format_money(amount: int | None, code: str | None, locale: str | None = None) -> str:
    """Minor units for the reader: ``15,00 €`` in French, ``€15.00`` in English.

    ``locale`` defaults to the reader's (Flask-Babel, which mails set to the recipient's).
    A currency outside the table is shown with two decimals and its code, never hidden.
    """
    if amount is None:
        return "—"
    upper = (code or "").strip().upper() or HOME_CURRENCY
    if upper in CURRENCIES:
        value = from_minor(amount, upper)
    else:
        value = (Decimal(int(amount)) / 100).quantize(Decimal("0.01"))
    return format_currency(value, upper, locale=_locale(locale))


def offered_currencies(app: Flask | None = None) -> list[str]:
    """The currencies admins may price tiers and plans in (``PAYMENT_CURRENCIES``), sorted
    with the home currency first."""
    config = (app or current_app).config
    codes = config.get("PAYMENT_CURRENCIES") or sorted(CURRENCIES)
    return sorted({code.upper() for code in codes}, key=lambda c: (c != HOME_CURRENCY, c))


def parse_currency_list(value: str | None) -> list[str]:
    """``"EUR, usd XOF"`` → ``["EUR", "USD", "XOF"]``; ``UnknownCurrency`` for a bad code."""
    codes = [part.strip().upper() for part in (value or "").replace(",", " ").split()]
    for code in codes:
        currency(code)
    return codes


def upper_code(value: object) -> object:
    """A form filter: ``"eur"`` → ``"EUR"`` (other values unchanged)."""
    return value.strip().upper() if isinstance(value, str) else value


def amount_error(amount: Decimal | None, code: str | None) -> str | None:
    """Why a price typed in ``code``'s units cannot be charged (a form's message), or None."""
    if amount is None or not is_known(code):
        return None
    try:
        to_minor(amount, code or "")
    except NotWholeMinorUnits:
        entry = currency(code or "")
        if entry.step > 1:
            return _(
                "Amounts in %(currency)s must be multiples of %(step)s.",
                currency=entry.code,
                step=from_minor(entry.step, entry.code),
            )
        return _(
            "Amounts in %(currency)s have at most %(digits)d decimals.",
            currency=entry.code,
            digits=entry.exponent,
        )
    return None


def init_app(app: Flask) -> None:
    """The ``money`` filter and global of the templates."""
    app.add_template_filter(format_money, "money")
    app.add_template_global(format_money, "money")

"""One way to show things: the reader's language and time zone, and the helpers that format
dates, times, countries and money for them.

Every template and e-mail goes through these helpers (``register_helpers`` installs them as
Jinja filters and globals, under Flask-Babel's own filter names too, so no page can format a
date another way); ``tests/test_i18n_templates.py`` fails on a raw ``isoformat`` /
``strftime`` or a country code shown to people.

- Language: the user's choice, else the visitor's (session, else the language switch's
  cookie), else the browser's, else French.
- Time zone: the user's (asked at registration from the browser's, editable on the profile),
  else the site's default (``BABEL_DEFAULT_TIMEZONE``); e-mails use the recipient's
  (``force_reader``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale, dates
from flask import Flask, current_app, g, has_app_context, has_request_context, request, session
from flask_babel import force_locale, get_locale
from flask_login import current_user

from marketplace.money import format_money

# Codes Babel lists among territories that are not countries one lives in.
NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})


def N_(msgid: str) -> str:  # noqa: N802 - gettext's conventional name
    """Mark a string for extraction, translated later (e-mail subjects, in the reader's locale)."""
    return msgid


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    # A visitor's choice (the language switch's cookie; marketplace.page_cache keys on it).
    chosen = request.cookies.get("locale")
    if chosen in languages:
        return chosen
    return (
        request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]
    )


def select_timezone() -> str:
    """The forced zone (an e-mail's recipient), else the signed-in user's, else the default."""
    forced = g.get("reader_timezone") if has_app_context() else None
    if forced:
        return forced
    if (
        has_request_context()
        and current_user
        and current_user.is_authenticated
        and is_timezone(getattr(current_user, "timezone", None))
    ):
        return current_user.timezone
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


@contextmanager
def force_reader(locale: str | None, timezone: str | None = None) -> Iterator[None]:
    """Format in another person's language and time zone (an e-mail to its recipient)."""
    from flask_babel import refresh

    previous = g.get("reader_timezone")
    g.reader_timezone = timezone if is_timezone(timezone) else None
    refresh()
    try:
        with force_locale(locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
            yield
    finally:
        g.reader_timezone = previous
        refresh()


def localized(row: object, field: str) -> str:
    """``row.<field>_en`` or ``_fr`` in the reader's language, falling back to the other one."""
    locale = get_locale()
    first, second = ("en", "fr") if locale and locale.language == "en" else ("fr", "en")
    return getattr(row, f"{field}_{first}") or getattr(row, f"{field}_{second}") or ""


def _locale() -> Locale:
    return get_locale() or Locale.parse(current_app.config["BABEL_DEFAULT_LOCALE"])


# ---------------------------------------------------------------- time zones


@cache
def timezone_names() -> tuple[str, ...]:
    """The IANA zones a person can live in (``Area/City``), sorted."""
    return tuple(
        sorted(
            name
            for name in available_timezones()
            if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/", "posix/", "right/"))
        )
    )


def is_timezone(name: str | None) -> bool:
    """True for an IANA zone name this machine knows."""
    if not name or not isinstance(name, str) or len(name) > 64:
        return False
    if name == "UTC":
        return True
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def reader_zone() -> ZoneInfo:
    """The reader's time zone, as a ``ZoneInfo``."""
    return ZoneInfo(select_timezone())


def to_reader_time(value: datetime) -> datetime:
    """A moment (naive means UTC) in the reader's time zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(reader_zone())


def from_reader_time(value: datetime | None, zone: str | None = None) -> datetime | None:
    """A wall-clock time the reader typed (naive) as an aware moment of their zone."""
    if value is None:
        return None
    if value.tzinfo is not None:
        return value
    return value.replace(tzinfo=ZoneInfo(zone) if is_timezone(zone) else reader_zone())


# ---------------------------------------------------------------- dates and times


def format_date(value: date | datetime | None, format: str = "medium") -> str:
    """A date in the reader's language; a moment is first moved to the reader's zone."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_reader_time(value).date()
    return dates.format_date(value, format=format, locale=_locale())


def format_time(value: datetime | None, format: str = "short") -> str:
    """A time of day in the reader's language and zone."""
    if value is None:
        return ""
    return dates.format_time(to_reader_time(value), format=format, locale=_locale())


def format_datetime(value: datetime | None, format: str = "medium") -> str:
    """A moment in the reader's language and zone: the date (``format``) and the time (short),
    e.g. "1 déc. 2026, 22:55" or "1 Dec 2026, 22:55"."""
    if value is None:
        return ""
    if isinstance(value, date) and not isinstance(value, datetime):
        return format_date(value, format)
    if format not in ("short", "medium", "long", "full"):
        return dates.format_datetime(to_reader_time(value), format=format, locale=_locale())
    locale = _locale()
    moment = to_reader_time(value)
    pattern = locale.datetime_formats.get(format) or "{1} {0}"
    time_format = "short" if format in ("short", "medium") else format
    return str(pattern).format(
        dates.format_time(moment, format=time_format, locale=locale),
        dates.format_date(moment, format=format, locale=locale),
    )


def timezone_label(name: str | None = None) -> str:
    """A zone as people read it ("heure : Lisbonne" / "Lisbon time"), for form hints."""
    zone = name or select_timezone()
    try:
        return dates.get_timezone_location(ZoneInfo(zone), locale=_locale(), return_city=True)
    except (LookupError, ValueError, ZoneInfoNotFoundError):
        return zone


# ---------------------------------------------------------------- countries


def _sort_key(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()


@cache
def _countries(locale: str) -> tuple[tuple[str, str], ...]:
    territories = Locale.parse(locale).territories
    countries = [
        (code, name)
        for code, name in territories.items()
        if len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES
    ]
    return tuple(sorted(countries, key=lambda item: _sort_key(item[1])))


def country_choices() -> list[tuple[str, str]]:
    """ISO 3166 alpha-2 codes with their names in the reader's language, in name order."""
    return list(_countries(str(_locale())))


COUNTRY_CODES = frozenset(code for code, _name in _countries("en"))


def country_name(code: str | None) -> str:
    """A country's name in the reader's language (the code itself when unknown)."""
    if not code:
        return ""
    return _locale().territories.get(code.upper()) or code


def country_names(codes: Iterable[str] | None) -> str:
    """Several countries' names, in the reader's list style ("Belgique et France")."""
    from babel.lists import format_list

    names = sorted((country_name(code) for code in codes or ()), key=_sort_key)
    return format_list(names, locale=_locale()) if names else ""


def country_code(text: str | None) -> str:
    """The ISO code of a country typed as its code or its name (in French or English)."""
    value = (text or "").strip()
    if not value:
        return ""
    if value.upper() in COUNTRY_CODES:
        return value.upper()
    wanted = _sort_key(value)
    for locale in {str(_locale()), "fr", "en"}:
        for code, name in _countries(locale):
            if _sort_key(name) == wanted:
                return code
    return ""


# ---------------------------------------------------------------- wiring


def register_helpers(app: Flask) -> None:
    """Install the helpers in Jinja: filters (also under Flask-Babel's names) and globals."""
    filters: dict[str, Any] = {
        "date": format_date,
        "time": format_time,
        "datetime": format_datetime,
        # Flask-Babel's own filters, replaced: a date of a moment is the reader's date.
        "dateformat": format_date,
        "datetimeformat": format_datetime,
        "timeformat": format_time,
        "country": country_name,
        "countries": country_names,
    }
    app.jinja_env.filters.update(filters)
    app.jinja_env.globals.update(
        country_name=country_name,
        country_names=country_names,
        country_choices=country_choices,
        # money.py's formatter (minor units of each currency), under the name templates use.
        format_money=format_money,
        timezone_label=timezone_label,
    )

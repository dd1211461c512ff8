"""The helpers of marketplace/i18n.py: dates and times in the reader's language and zone,
countries by name, money by Babel; e-mails in the recipient's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask_babel import force_locale

from marketplace import i18n
from marketplace.extensions import db

LATE_EVENING = datetime(2027, 5, 30, 23, 30, tzinfo=UTC)


def in_reader(app, locale: str, timezone: str, call):
    with app.test_request_context(), i18n.force_reader(locale, timezone):
        return call()


def test_a_moment_is_shown_in_the_readers_zone_and_language(app):
    paris = in_reader(app, "fr", "Europe/Paris", lambda: i18n.format_datetime(LATE_EVENING))
    tokyo = in_reader(app, "en", "Asia/Tokyo", lambda: i18n.format_datetime(LATE_EVENING))
    dakar = in_reader(app, "fr", "Africa/Dakar", lambda: i18n.format_time(LATE_EVENING))
    assert paris == "31 mai 2027, 01:30"
    assert tokyo == "May 31, 2027, 8:30\u202fAM"
    assert dakar == "23:30"


def test_the_date_of_a_moment_is_the_readers_date_not_utcs(app):
    assert in_reader(app, "fr", "Asia/Tokyo", lambda: i18n.format_date(LATE_EVENING)) == (
        "31 mai 2027"
    )
    assert in_reader(app, "en", "America/Lima", lambda: i18n.format_date(LATE_EVENING)) == (
        "May 30, 2027"
    )
    assert in_reader(app, "fr", "UTC", lambda: i18n.format_date(date(2027, 5, 30))) == (
        "30 mai 2027"
    )


def test_jinja_filters_including_flask_babels_names_use_the_helpers(app):
    template = "{{ at|datetimeformat }} | {{ at|dateformat }} | {{ at|datetime('short') }}"
    with app.test_request_context(), i18n.force_reader("en", "Asia/Tokyo"):
        shown = app.jinja_env.from_string(template).render(at=LATE_EVENING)
    assert shown == "May 31, 2027, 8:30\u202fAM | May 31, 2027 | 5/31/27, 8:30\u202fAM"


def test_countries_are_names_in_the_readers_language(app):
    with app.test_request_context():
        with force_locale("fr"):
            assert i18n.country_name("SN") == "Sénégal"
            assert i18n.country_names(["FR", "BE"]) == "Belgique et France"
            assert i18n.country_code("sénégal") == "SN"
            assert i18n.country_code("Portugal") == "PT"
        with force_locale("en"):
            assert i18n.country_names(["PT", "SN", "BE"]) == "Belgium, Portugal, and Senegal"
            assert i18n.country_code("Belgique") == "BE"
            assert i18n.country_code("pt") == "PT"
            assert i18n.country_code("Atlantis") == ""


def test_money_is_formatted_by_babel_for_the_reader(app):
    with app.test_request_context():
        with force_locale("fr"):
            assert i18n.format_money(4000, "EUR") == "40,00\xa0€"
        with force_locale("en"):
            assert i18n.format_money(4000, "EUR") == "€40.00"
            assert i18n.format_money(123456, "USD") == "$1,234.56"


def test_unknown_zones_are_refused():
    assert i18n.is_timezone("Europe/Lisbon")
    assert i18n.is_timezone("UTC")
    assert not i18n.is_timezone("Mars/Olympus")
    assert not i18n.is_timezone("../etc/passwd")
    assert not i18n.is_timezone("")
    assert "America/Sao_Paulo" in i18n.timezone_names()


def test_a_signed_in_readers_pages_use_their_zone(app, client, create_user, login):
    from marketplace.accounts.models import User

    user = create_user("tokyo@example.org", locale="en")
    with app.app_context():
        row = db.session.get(User, user.id)
        row.timezone = "Asia/Tokyo"
        db.session.commit()
        user = row
    login(client, user, mfa=False)
    with app.test_request_context():
        from flask_login import login_user

        login_user(user)
        assert i18n.select_timezone() == "Asia/Tokyo"
    with app.test_request_context():
        assert i18n.select_timezone() == "Europe/Paris"


def test_an_email_is_written_in_the_recipients_zone(app, create_user):
    from marketplace.accounts.models import User
    from marketplace.notifications.services import queue_mail

    user = create_user("lima@example.org", locale="en")
    with app.test_request_context():
        row = db.session.get(User, user.id)
        row.timezone = "America/Lima"
        message = queue_mail(
            to=row.email,
            template="privacy/deletion_requested",
            subject="Your account will be deleted",
            locale=row.locale,
            user=row,
            due_at=LATE_EVENING,
            cancel_url="https://example.org/cancel",
        )
        assert "May 30, 2027, 6:30\u202fPM" in message.body_text
        # The page that sent it keeps its own zone afterwards.
        assert i18n.select_timezone() == "Europe/Paris"


def test_french_labels_take_the_space_before_a_colon(app, client, create_user, login):
    from marketplace.notifications.models import SavedSearch

    user = create_user("saver@example.org", alumni=True, status="verified")
    with app.app_context():
        db.session.add(
            SavedSearch(
                user_id=user.id,
                kind="offers",
                criteria={"q": "livre", "country": "SN"},
                frequency="weekly",
                unsubscribe_token_hash="0" * 64,
            )
        )
        db.session.commit()
    login(client, user, mfa=False)

    html = client.get("/notifications/searches", headers={"Accept-Language": "fr"}).get_data(
        as_text=True
    )

    assert "Mots-clés\u00a0: <strong>livre</strong>" in html
    assert "Pays\u00a0: <strong>Sénégal</strong>" in html

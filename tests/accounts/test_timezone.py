"""Every person has a time zone: asked at registration (the browser's, chosen by
static/js/timezone.js), editable on the profile, used for every date shown to them; and the
registration form carries a privacy notice."""

from __future__ import annotations

import re

from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.extensions import db

EN = {"Accept-Language": "en"}


def stored_zone(app, email: str) -> str | None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        return user.timezone if user else None


def test_the_registration_form_asks_for_a_time_zone_and_says_what_happens_to_the_data(
    client, school
):
    html = client.get("/accounts/register", headers=EN).get_data(as_text=True)

    assert re.search(r'<select [^>]*data-browser-timezone="" id="timezone" name="timezone"', html)
    assert '<option value="America/Sao_Paulo">America/Sao Paulo</option>' in html
    assert "js/timezone.js" in html
    assert 'id="privacy-notice"' in html
    assert 'href="/privacy/"' in html


def test_the_chosen_zone_is_kept_at_registration(app, client, registration):
    response = client.post("/accounts/register", data=registration(timezone="Africa/Dakar"))

    assert response.status_code == 302
    assert stored_zone(app, "ines.duval@example.org") == "Africa/Dakar"


def test_without_a_zone_the_associations_is_kept(app, client, registration):
    client.post("/accounts/register", data=registration())

    assert stored_zone(app, "ines.duval@example.org") == "Europe/Paris"


def test_an_unknown_zone_is_refused(app, client, registration):
    response = client.post("/accounts/register", data=registration(timezone="Mars/Olympus"))

    assert response.status_code == 422
    assert b'id="timezone-error"' in response.data
    assert stored_zone(app, "ines.duval@example.org") is None


def test_the_profile_changes_the_zone_and_the_pages_follow(app, client, create_user, login):
    user = create_user("tz@example.org", alumni=True, locale="en")
    login(client, user, mfa=False)
    assert '<option selected value="Europe/Paris">' in client.get("/accounts/profile").get_data(
        as_text=True
    )

    response = client.post(
        "/accounts/profile",
        data={
            "full_name": "Camille Martin",
            "locale": "en",
            "timezone": "Asia/Tokyo",
            "country": "JP",
            "city": "Tokyo",
        },
    )

    assert response.status_code == 302
    assert stored_zone(app, "tz@example.org") == "Asia/Tokyo"
    profile = client.get("/accounts/profile").get_data(as_text=True)
    assert '<option selected value="Asia/Tokyo">' in profile

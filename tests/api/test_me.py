"""GET /api/v1/me: the caller's own account, by bearer token or browser session."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, totp_now

EN = {"Accept-Language": "en"}


def token_for(client, email: str, **extra) -> str:
    response = client.post("/api/v1/tokens", json={"email": email, "password": PASSWORD, **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


def test_me_describes_a_verified_alumnus(client, create_user, school):
    user = create_user(
        "marie@example.org",
        full_name="Marie Dupont",
        alumni=True,
        status="verified",
        school=school,
        graduation_year=2012,
        locale="en",
    )
    token = token_for(client, "marie@example.org")
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json() == {
        "id": user.id,
        "email": "marie@example.org",
        "full_name": "Marie Dupont",
        "locale": "en",
        "timezone": "Europe/Paris",
        "roles": [],
        "email_confirmed": True,
        "alumni": {
            "status": "verified",
            "school": "Lycée français Charles Lepierre",
            "graduation_year": 2012,
            "country": "PT",
            "city": "Lisbonne",
        },
    }


def test_me_of_staff_without_alumni_profile(client, create_user):
    create_user("staff@example.org", roles=("treasurer", "admin"), confirmed=False)
    token = token_for(client, "staff@example.org", otp=totp_now())
    body = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert body["roles"] == ["admin", "treasurer"]
    assert body["alumni"] is None
    assert body["email_confirmed"] is False


def test_me_shows_a_pending_alumnus_as_pending(client, create_user):
    create_user("pending@example.org", alumni=True, status="pending")
    token = token_for(client, "pending@example.org")
    body = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert body["alumni"]["status"] == "pending"


def test_anonymous_me_is_401_with_the_error_body(client):
    response = client.get("/api/v1/me", headers=EN)
    assert response.status_code == 401
    body = response.get_json()
    assert body["code"] == 401
    assert body["status"] == "Unauthorized"
    assert body["message"]


def test_a_browser_session_reads_me(client, create_user, login):
    user = create_user("browser@example.org", alumni=True, status="verified")
    login(client, user, mfa=False)
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.get_json()["email"] == "browser@example.org"
    assert response.headers["Cache-Control"] == "no-store"


def test_an_ended_session_does_not_read_me(app, client, create_user, login):
    from marketplace.accounts.models import User
    from marketplace.extensions import db
    from marketplace.security import end_all_sessions

    user = create_user("ended@example.org")
    login(client, user, mfa=False)
    assert client.get("/api/v1/me").status_code == 200
    with app.app_context():
        end_all_sessions(db.session.get(User, user.id))
        db.session.commit()
    assert client.get("/api/v1/me").status_code == 401


def test_api_answers_carry_no_wildcard_cors_header(client, create_user, login):
    user = create_user("cors@example.org")
    token = token_for(client, "cors@example.org")
    origin = {"Origin": "https://evil.example"}
    responses = [
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}", **origin}),
        client.get("/api/v1/me", headers=origin),
        client.options("/api/v1/me", headers=origin),
        client.post("/api/v1/tokens", json={"email": "x", "password": "y"}, headers=origin),
        login(client, user, mfa=False).get("/api/v1/me", headers=origin),
    ]
    for response in responses:
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Access-Control-Allow-Credentials" not in response.headers


# ---------------------------------------------------------------- PATCH /me


def test_patch_me_changes_language_zone_country_and_city(app, client, create_user):
    from marketplace.accounts.models import User
    from marketplace.extensions import db

    user = create_user("moving@example.org", alumni=True, status="verified")
    token = token_for(client, "moving@example.org")
    response = client.patch(
        "/api/v1/me",
        json={"locale": "en", "timezone": "Africa/Dakar", "country": "sn", "city": "Dakar"},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 200
    body = response.get_json()
    assert (body["locale"], body["timezone"]) == ("en", "Africa/Dakar")
    assert (body["alumni"]["country"], body["alumni"]["city"]) == ("SN", "Dakar")
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert (stored.locale, stored.timezone) == ("en", "Africa/Dakar")
        assert stored.alumni_profile.country == "SN"
    again = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert again["timezone"] == "Africa/Dakar"


def test_patch_me_keeps_what_is_not_sent(client, create_user):
    create_user("keep@example.org", alumni=True, locale="en")
    token = token_for(client, "keep@example.org")
    body = client.patch(
        "/api/v1/me", json={"timezone": "Asia/Tokyo"}, headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    assert (body["locale"], body["timezone"], body["alumni"]["country"]) == (
        "en",
        "Asia/Tokyo",
        "PT",
    )


@pytest.mark.parametrize(
    "change",
    [
        {"timezone": "Mars/Olympus"},
        {"country": "XX"},
        {"locale": "de"},
        {"city": ""},
        {"timezone": 42},
    ],
)
def test_patch_me_refuses_bad_values_with_the_error_body(app, client, create_user, change):
    from marketplace.accounts.models import User
    from marketplace.extensions import db

    user = create_user("bad@example.org", alumni=True)
    token = token_for(client, "bad@example.org")
    response = client.patch(
        "/api/v1/me", json=change, headers={"Authorization": f"Bearer {token}", **EN}
    )

    assert response.status_code == 422
    assert response.get_json()["errors"]
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert (stored.timezone, stored.locale, stored.alumni_profile.country) == (
            "Europe/Paris",
            "fr",
            "PT",
        )


def test_patch_me_country_without_an_alumni_profile_is_422(client, create_user):
    create_user("partner@example.org")
    token = token_for(client, "partner@example.org")
    response = client.patch(
        "/api/v1/me", json={"country": "FR"}, headers={"Authorization": f"Bearer {token}", **EN}
    )
    assert response.status_code == 422


def test_patch_me_needs_a_token_not_a_session(client, create_user, login):
    user = create_user("session@example.org", alumni=True)
    login(client, user, mfa=False)
    assert client.patch("/api/v1/me", json={"locale": "en"}).status_code == 401

"""GET /api/v1/me: the caller's own account, by bearer token or browser session."""

from __future__ import annotations

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

"""POST /api/v1/tokens and DELETE /api/v1/tokens/current: issue, use, revoke, expire."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from marketplace.accounts import second_factor, services
from marketplace.accounts.models import ApiToken, RecoveryCode, User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.security import token_digest
from tests.conftest import PASSWORD, totp_now

EN = {"Accept-Language": "en"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **EN}


def ask_token(client, email: str, password: str = PASSWORD, **extra):
    return client.post(
        "/api/v1/tokens", json={"email": email, "password": password, **extra}, headers=EN
    )


def test_credentials_give_a_token_that_authenticates(client, create_user):
    user = create_user("ana@example.org", alumni=True, status="verified")
    response = ask_token(client, "ANA@example.org ")
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"token", "expires_at"}
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=29) < expires_at - utcnow() <= timedelta(days=30)

    me = client.get("/api/v1/me", headers=bearer(body["token"]))
    assert me.status_code == 200
    assert me.get_json()["id"] == user.id


def test_tokens_are_stored_hashed(app, client, create_user):
    user = create_user("hash@example.org")
    token = ask_token(client, "hash@example.org").get_json()["token"]
    with app.app_context():
        rows = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()
        assert len(rows) == 1
        row = rows[0]
        assert row.token_hash == token_digest(token)
        stored = " ".join(str(value) for value in vars(row).values())
        assert token not in stored


def test_revoked_token_stops_working(app, client, create_user):
    user = create_user("rev@example.org")
    token = ask_token(client, "rev@example.org").get_json()["token"]
    other = ask_token(client, "rev@example.org").get_json()["token"]

    response = client.delete("/api/v1/tokens/current", headers=bearer(token))
    assert response.status_code == 204
    assert response.data == b""

    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert client.delete("/api/v1/tokens/current", headers=bearer(token)).status_code == 401
    # Only the token sent is revoked.
    assert client.get("/api/v1/me", headers=bearer(other)).status_code == 200
    with app.app_context():
        rows = {
            row.token_hash: row
            for row in db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id))
        }
        assert rows[token_digest(token)].revoked_at is not None
        assert rows[token_digest(other)].revoked_at is None


def test_expired_token_is_refused(app, client, create_user):
    create_user("old@example.org")
    token = ask_token(client, "old@example.org").get_json()["token"]
    with app.app_context():
        row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json()["code"] == 401


def test_token_of_a_disabled_account_is_refused(app, client, create_user):
    user = create_user("gone@example.org")
    token = ask_token(client, "gone@example.org").get_json()["token"]
    with app.app_context():
        services.set_disabled(db.session.get(User, user.id), True, actor=None)
        db.session.commit()
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_unknown_token_is_refused(client):
    response = client.get("/api/v1/me", headers=bearer("not-a-token"))
    assert response.status_code == 401


def test_wrong_password_unknown_email_and_disabled_account_look_the_same(app, client, create_user):
    create_user("known@example.org")
    disabled = create_user("disabled@example.org")
    with app.app_context():
        services.set_disabled(db.session.get(User, disabled.id), True, actor=None)
        db.session.commit()

    wrong_password = ask_token(client, "known@example.org", "not the password")
    unknown_email = ask_token(client, "nobody@example.org")
    disabled_account = ask_token(client, "disabled@example.org")
    malformed_email = ask_token(client, "not an address")

    bodies = [
        r.get_json() for r in (wrong_password, unknown_email, disabled_account, malformed_email)
    ]
    assert {r.status_code for r in (wrong_password, unknown_email, disabled_account)} == {401}
    assert malformed_email.status_code == 401
    assert bodies[0] == bodies[1] == bodies[2] == bodies[3]
    assert bodies[0]["code"] == 401
    assert bodies[0]["status"] == "Unauthorized"
    assert bodies[0]["message"] == "Invalid e-mail or password."
    with app.app_context():
        assert db.session.scalar(select(ApiToken)) is None


def test_missing_fields_answer_422_with_the_error_body(client):
    response = client.post("/api/v1/tokens", json={"email": "x@example.org"}, headers=EN)
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == 422
    assert body["status"] == "Unprocessable Entity"
    assert "password" in body["errors"]["json"]
    assert body["message"]


def test_unknown_fields_are_ignored(client, create_user):
    create_user("extra@example.org")
    response = ask_token(client, "extra@example.org", days=3650, user_id=1)
    assert response.status_code == 201


# ---------------------------------------------------------------- staff two-factor


@pytest.mark.parametrize("role", ["moderator", "treasurer", "admin"])
def test_staff_need_a_two_factor_code(client, create_user, role):
    create_user(f"{role}@example.org", roles=(role,))
    response = ask_token(client, f"{role}@example.org")
    assert response.status_code == 401
    body = response.get_json()
    assert body["errors"] == {"reason": "otp_required"}
    assert "two-factor code is required" in body["message"]

    response = ask_token(client, f"{role}@example.org", otp=totp_now())
    assert response.status_code == 201
    assert response.get_json()["token"]


def test_staff_with_a_wrong_code_get_no_token(app, client, create_user):
    create_user("mod@example.org", roles=("moderator",))
    wrong = "000000" if totp_now() != "000000" else "111111"
    response = ask_token(client, "mod@example.org", otp=wrong)
    assert response.status_code == 401
    assert response.get_json()["errors"] == {"reason": "otp_required"}
    with app.app_context():
        assert db.session.scalar(select(ApiToken)) is None


def test_a_two_factor_code_works_once(client, create_user):
    create_user("once@example.org", roles=("moderator",))
    code = totp_now()
    assert ask_token(client, "once@example.org", otp=code).status_code == 201
    assert ask_token(client, "once@example.org", otp=code).status_code == 401


def test_staff_may_use_a_recovery_code_once(app, client, create_user):
    user = create_user("lost@example.org", roles=("admin",))
    with app.app_context():
        codes = second_factor.new_recovery_codes(db.session.get(User, user.id))
        db.session.commit()

    assert ask_token(client, "lost@example.org", otp=codes[0]).status_code == 201
    assert ask_token(client, "lost@example.org", otp=codes[0]).status_code == 401
    with app.app_context():
        used = db.session.scalars(
            select(RecoveryCode).where(RecoveryCode.used_at.is_not(None))
        ).all()
        assert len(used) == 1


def test_staff_without_two_factor_must_enrol_on_the_website(app, client, create_user):
    create_user("new-mod@example.org", roles=("moderator",), totp=False)
    response = ask_token(client, "new-mod@example.org", otp="123456")
    assert response.status_code == 403
    body = response.get_json()
    assert body["errors"] == {"reason": "otp_not_enrolled"}
    assert "on the website" in body["message"]
    with app.app_context():
        assert db.session.scalar(select(ApiToken)) is None


def test_staff_without_two_factor_and_a_wrong_password_get_401_not_403(client, create_user):
    create_user("new-admin@example.org", roles=("admin",), totp=False)
    response = ask_token(client, "new-admin@example.org", "wrong password")
    assert response.status_code == 401
    assert response.get_json()["errors"] == {"reason": "invalid_credentials"}


def test_alumni_need_no_two_factor_code(client, create_user):
    create_user("alum@example.org", alumni=True, status="verified")
    assert ask_token(client, "alum@example.org").status_code == 201


# ---------------------------------------------------------------- sessions and revocation


def test_a_browser_session_cannot_revoke_tokens(client, create_user, login):
    user = create_user("session@example.org")
    token = ask_token(client, "session@example.org").get_json()["token"]
    login(client, user, mfa=False)
    response = client.delete("/api/v1/tokens/current", headers=EN)
    assert response.status_code == 401
    assert response.get_json()["code"] == 401
    # The token was not touched.
    client.delete_cookie("session")
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200


def test_anonymous_revocation_is_401(client):
    response = client.delete("/api/v1/tokens/current", headers=EN)
    assert response.status_code == 401
    assert set(response.get_json()) >= {"code", "status", "message"}

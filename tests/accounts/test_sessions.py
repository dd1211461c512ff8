"""Sessions: a cookie stops working after logout, disabling or a password change; the session
starts afresh at login; idle sessions end; signed-in pages are not cached."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from tests.accounts.helpers import GOOD_PASSWORD, session_user_id
from tests.conftest import PASSWORD


def _replay(app, name: str, value: str) -> FlaskClient:
    """A fresh browser holding only one captured cookie."""
    thief = app.test_client()
    thief.set_cookie(name, value)
    return thief


def _is_signed_in(client: FlaskClient) -> bool:
    response = client.get("/accounts/profile")
    return response.status_code == 200


def test_session_cookie_captured_before_logout_is_dead_after_it(app, client, create_user, sign_in):
    create_user("camille@example.org")
    sign_in(client, "camille@example.org")
    captured = client.get_cookie("session").value
    assert _is_signed_in(_replay(app, "session", captured))
    client.post("/accounts/logout")
    assert not _is_signed_in(_replay(app, "session", captured))


def test_remember_me_cookie_is_dead_after_logout(app, client, create_user, sign_in):
    create_user("camille@example.org")
    sign_in(client, "camille@example.org", remember=True)
    remember = client.get_cookie("remember_token")
    assert remember is not None
    # Alone, the remember-me cookie restores a session...
    assert _is_signed_in(_replay(app, "remember_token", remember.value))
    response = client.post("/accounts/logout")
    assert "remember_token=;" in " ".join(response.headers.getlist("Set-Cookie"))
    # ...but not once the person has signed out.
    assert not _is_signed_in(_replay(app, "remember_token", remember.value))


def test_session_cookie_is_dead_once_the_account_is_disabled(app, client, create_user, sign_in):
    user = create_user("camille@example.org")
    sign_in(client, "camille@example.org")
    captured = client.get_cookie("session").value
    with app.app_context():
        db.session.get(User, user.id).disabled_at = utcnow()
        db.session.commit()
    assert not _is_signed_in(_replay(app, "session", captured))
    assert not _is_signed_in(client)


def test_password_change_ends_other_sessions_and_keeps_this_one(app, client, create_user, sign_in):
    create_user("camille@example.org")
    sign_in(client, "camille@example.org")
    other_device = app.test_client()
    sign_in(other_device, "camille@example.org")
    captured = client.get_cookie("session").value
    response = client.post(
        "/accounts/password",
        data={
            "current_password": PASSWORD,
            "new_password": GOOD_PASSWORD,
            "confirm_password": GOOD_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert _is_signed_in(client)
    assert not _is_signed_in(other_device)
    assert not _is_signed_in(_replay(app, "session", captured))


def test_session_contents_from_before_login_are_gone(client, create_user, sign_in):
    create_user("camille@example.org")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
        session["locale"] = "en"
    before = client.get_cookie("session").value
    sign_in(client, "camille@example.org")
    assert client.get_cookie("session").value != before
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["locale"] == "en"  # the visitor's language survives
        assert session["_user_id"]


def test_idle_session_is_signed_out(client, create_user, sign_in):
    create_user("camille@example.org")
    sign_in(client, "camille@example.org")
    with client.session_transaction() as session:
        session["seen_at"] = (utcnow() - timedelta(hours=3)).timestamp()
    response = client.get("/accounts/profile")
    assert response.status_code == 302
    assert "/accounts/login" in response.headers["Location"]
    assert session_user_id(client) is None


def test_session_older_than_the_absolute_limit_is_signed_out(client, create_user, sign_in):
    create_user("camille@example.org")
    sign_in(client, "camille@example.org")
    with client.session_transaction() as session:
        session["login_at"] = (utcnow() - timedelta(hours=13)).timestamp()
    assert client.get("/accounts/profile").status_code == 302
    assert session_user_id(client) is None


def test_signed_in_pages_are_not_cached(client, create_user, sign_in):
    create_user("camille@example.org", alumni=True)
    sign_in(client, "camille@example.org")
    for path in ("/accounts/profile", "/accounts/status", "/"):
        assert client.get(path).headers.get("Cache-Control") == "no-store", path


def test_session_cookie_flags(client, create_user, sign_in):
    create_user("camille@example.org")
    response = sign_in(client, "camille@example.org", remember=True)
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("session="))
    remember_cookie = next(c for c in cookies if c.startswith("remember_token="))
    for cookie in (session_cookie, remember_cookie):
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie

"""Signing in and out: one answer for every failure, safe redirects, throttling."""

from __future__ import annotations

import re

import pytest

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from tests.accounts.helpers import session_user_id
from tests.conftest import PASSWORD

ERRORS = re.compile(
    rb'<div class="flash flash-error" role="alert" id="form-errors">(.*?)</div>', re.S
)


def _form_error(response) -> bytes:
    match = ERRORS.search(response.data)
    assert match, "the form shows no error"
    return match.group(1)


def test_login_page(client):
    response = client.get("/accounts/login")
    assert response.status_code == 200
    assert b'name="email"' in response.data
    assert b'name="password"' in response.data
    assert b'name="remember"' in response.data


def test_login_signs_in_records_it_and_goes_home(app, client, create_user, sign_in):
    user = create_user("camille@example.org")
    response = sign_in(client, "Camille@Example.org ")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert session_user_id(client) == f"{user.id}:1"
    with app.app_context():
        assert db.session.get(User, user.id).last_login_at is not None
    assert client.get("/accounts/profile").status_code == 200


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/accounts/status", "/accounts/status"),
        ("//evil.example/phish", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ],
)
def test_login_follows_only_a_same_site_next(client, create_user, sign_in, target, expected):
    create_user("camille@example.org")
    response = sign_in(client, "camille@example.org", query_string={"next": target})
    assert response.headers["Location"] == expected


def test_a_protected_page_sends_to_login_and_back(client, create_user, sign_in):
    create_user("camille@example.org")
    response = client.get("/accounts/profile")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/accounts/login?next=")
    login_page = client.get(response.headers["Location"])
    assert b"next=%2Faccounts%2Fprofile" in login_page.data
    response = sign_in(client, "camille@example.org", query_string={"next": "/accounts/profile"})
    assert response.headers["Location"] == "/accounts/profile"


def test_same_message_and_status_for_unknown_email_wrong_password_and_disabled(
    app, client, create_user, sign_in
):
    create_user("known@example.org", locale="en")
    disabled = create_user("disabled@example.org")
    with app.app_context():
        db.session.get(User, disabled.id).disabled_at = utcnow()
        db.session.commit()
    headers = {"Accept-Language": "en"}
    unknown = sign_in(client, "nobody@example.org", "whatever it is", headers=headers)
    wrong = sign_in(client, "known@example.org", "not the password", headers=headers)
    refused = sign_in(client, "disabled@example.org", PASSWORD, headers=headers)
    assert unknown.status_code == wrong.status_code == refused.status_code == 422
    assert _form_error(unknown) == _form_error(wrong) == _form_error(refused)
    assert b"Invalid e-mail or password." in _form_error(unknown)
    assert session_user_id(client) is None


def test_logout_ends_the_session(app, client, create_user, sign_in):
    user = create_user("camille@example.org")
    sign_in(client, "camille@example.org")
    response = client.post("/accounts/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert session_user_id(client) is None
    assert client.get("/accounts/profile").status_code == 302
    with app.app_context():
        assert db.session.get(User, user.id).session_version == 2


def test_logout_is_post_only(client):
    assert client.get("/accounts/logout").status_code == 405


def test_login_form_needs_a_csrf_token(client, create_user, sign_in, csrf_enabled):
    create_user("camille@example.org")
    response = sign_in(client, "camille@example.org")
    assert response.status_code == 400
    assert session_user_id(client) is None


def test_an_already_signed_in_person_is_sent_on(client, create_user, login):
    login(client, create_user(), mfa=False)
    response = client.get("/accounts/login", query_string={"next": "/accounts/profile"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/accounts/profile"


# ---------------------------------------------------------------- throttling


def test_eleventh_attempt_on_one_account_within_a_minute_is_refused(
    client, create_user, sign_in, rate_limits
):
    create_user("target@example.org")
    for _ in range(10):
        assert sign_in(client, "target@example.org", "wrong password").status_code == 422
    # Even the right password: the account is locked for the rest of the minute.
    assert sign_in(client, "target@example.org").status_code == 429
    assert sign_in(client, "TARGET@example.org ", "wrong password").status_code == 429
    # Another account from the same address is still served, and GETs are not counted.
    assert client.get("/accounts/login").status_code == 200
    assert sign_in(client, "other@example.org", "wrong password").status_code == 422


@pytest.mark.parametrize("first", ["page", "api"])
def test_one_login_budget_per_account_across_the_page_and_the_api(
    client, create_user, sign_in, rate_limits, first
):
    """Ten failures on one way in leave none for the other (they were counted per route)."""
    create_user("target@example.org")

    wrong = "wrong password"

    def page(password: str = wrong) -> int:
        return sign_in(client, "target@example.org", password).status_code

    def api(password: str = wrong) -> int:
        body = {"email": "Target@Example.org", "password": password}
        return client.post("/api/v1/tokens", json=body).status_code

    spend, other = (page, api) if first == "page" else (api, page)
    for _ in range(10):
        assert spend() in (401, 422)
    assert other(PASSWORD) == 429
    assert other() == 429


def test_the_two_factor_step_draws_on_the_same_budget(client, create_user, sign_in, rate_limits):
    from tests.conftest import totp_now

    create_user("mod@example.org", roles=("moderator",))
    for _ in range(5):
        body = {"email": "mod@example.org", "password": "wrong password"}
        assert client.post("/api/v1/tokens", json=body).status_code == 401
    assert sign_in(client, "mod@example.org").status_code == 302  # the sixth attempt
    for _ in range(4):
        assert client.post("/accounts/two-factor", data={"code": "000000x"}).status_code == 422
    # Ten spent: neither the code nor the API get another try this minute.
    assert client.post("/accounts/two-factor", data={"code": totp_now()}).status_code == 429
    body = {"email": "mod@example.org", "password": PASSWORD, "otp": totp_now()}
    assert client.post("/api/v1/tokens", json=body).status_code == 429


def test_sixty_attempts_from_one_address_across_accounts_then_429(client, sign_in, rate_limits):
    for n in range(60):
        response = sign_in(client, f"user{n}@example.org", "wrong password")
        assert response.status_code == 422
    response = sign_in(client, "user60@example.org", "wrong password")
    assert response.status_code == 429
    assert b"<h1>" in response.data  # the site's error page, not a bare body
    # Another address is not blocked.
    other = sign_in(
        client,
        "user61@example.org",
        "wrong password",
        environ_overrides={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert other.status_code == 422


def test_gets_do_not_count_against_the_login_limit(client, rate_limits):
    for _ in range(70):
        assert client.get("/accounts/login").status_code == 200


def test_registration_and_reset_are_throttled_per_address(client, rate_limits):
    for _ in range(20):
        assert client.post("/accounts/register", data={}).status_code == 422
    assert client.post("/accounts/register", data={}).status_code == 429
    for _ in range(10):
        assert client.post("/accounts/password/forgot", data={}).status_code == 422
    assert client.post("/accounts/password/forgot", data={}).status_code == 429

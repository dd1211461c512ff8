"""Every account page keeps to the CSP (nothing inline) and labels its fields."""

from __future__ import annotations

import re

import pytest

from tests.accounts.helpers import session_user_id

ANONYMOUS_PAGES = [
    "/accounts/login",
    "/accounts/register",
    "/accounts/register/check-inbox",
    "/accounts/password/forgot",
    "/accounts/password/forgot/sent",
]
ALUMNUS_PAGES = ["/accounts/profile", "/accounts/status"]
INLINE = re.compile(rb"""\sstyle\s*=|\son[a-z]+\s*=|<script(?![^>]*\bsrc=)|javascript:""", re.I)
FIELD = re.compile(rb'<(?:input|select|textarea)\b[^>]*\bid="([^"]+)"[^>]*>', re.I)


def _check(html: bytes) -> None:
    assert not INLINE.search(html), INLINE.search(html).group(0)
    assert html.count(b"<h1") == 1
    for match in FIELD.finditer(html):
        if b'type="hidden"' in match.group(0):
            continue
        assert b'<label for="' + match.group(1) + b'"' in html, match.group(0)


@pytest.mark.parametrize("path", ANONYMOUS_PAGES)
def test_anonymous_pages(client, school, path):
    response = client.get(path)
    assert response.status_code == 200
    _check(response.data)


@pytest.mark.parametrize("status", ["pending", "info_requested", "verified", "refused"])
def test_alumnus_pages(client, create_user, login, status):
    login(client, create_user(alumni=True, status=status, confirmed=False), mfa=False)
    for path in ALUMNUS_PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        _check(response.data)


def test_form_errors_keep_to_the_rules(client, school):
    response = client.post("/accounts/register", data={"email": "x"})
    assert response.status_code == 422
    _check(response.data)
    assert b'aria-invalid="true"' in response.data
    assert b'aria-describedby="email-hint email-error"' in response.data


def test_two_factor_pages(client, create_user, sign_in):
    create_user("mod@example.org", roles=("moderator",), totp=False)
    sign_in(client, "mod@example.org")
    setup = client.get("/accounts/two-factor/setup")
    _check(setup.data)
    assert session_user_id(client) is None
    create_user("mod2@example.org", roles=("moderator",))
    sign_in(client, "mod2@example.org")
    _check(client.get("/accounts/two-factor").data)

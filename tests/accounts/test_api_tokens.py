"""API tokens die with the password and with "sign out everywhere"; the account page lists them.

A bearer token is a credential like the session cookie: whoever changes or resets a password
because it leaked, or signs out everywhere, expects every way in to close, scripts included.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from marketplace.accounts.models import ApiToken
from marketplace.extensions import db
from tests.accounts.helpers import GOOD_PASSWORD
from tests.conftest import PASSWORD

EN = {"Accept-Language": "en"}


def _token(client, email: str, password: str = PASSWORD) -> str:
    response = client.post("/api/v1/tokens", json={"email": email, "password": password})
    assert response.status_code == 201
    return response.get_json()["token"]


def _me(client, token: str) -> int:
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_password_change_revokes_the_tokens_and_says_so(app, client, create_user, sign_in):
    create_user("camille@example.org", locale="en")
    api = app.test_client()
    first, second = _token(api, "camille@example.org"), _token(api, "camille@example.org")
    assert _me(api, first) == 200
    sign_in(client, "camille@example.org")
    response = client.post(
        "/accounts/password",
        data={
            "current_password": PASSWORD,
            "new_password": GOOD_PASSWORD,
            "confirm_password": GOOD_PASSWORD,
        },
        headers=EN,
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert b"2 API tokens were revoked" in response.data
    assert _me(api, first) == 401
    assert _me(api, second) == 401
    # The session that changed the password goes on.
    assert client.get("/accounts/profile").status_code == 200


def test_a_password_reset_revokes_the_tokens(client, create_user, mail_token):
    create_user("camille@example.org", locale="en")
    api = client.application.test_client()
    token = _token(api, "camille@example.org")
    client.post("/accounts/password/forgot", data={"email": "camille@example.org"})
    link = mail_token("camille@example.org", "reset")
    response = client.post(
        f"/accounts/password/reset/{link}",
        data={"password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD},
        headers=EN,
        follow_redirects=True,
    )
    assert b"1 API token was revoked" in response.data
    assert _me(api, token) == 401


def test_signing_out_everywhere_revokes_the_tokens(client, create_user, sign_in):
    create_user("camille@example.org", locale="en")
    api = client.application.test_client()
    token = _token(api, "camille@example.org")
    sign_in(client, "camille@example.org")
    response = client.post("/accounts/logout", headers=EN, follow_redirects=True)
    assert b"1 API token was revoked" in response.data
    assert _me(api, token) == 401


def test_the_account_page_lists_the_tokens_and_revokes_one(app, client, create_user, sign_in):
    user = create_user("camille@example.org", locale="en")
    other = create_user("other@example.org")
    api = app.test_client()
    kept, revoked = _token(api, "camille@example.org"), _token(api, "camille@example.org")
    foreign = _token(api, "other@example.org")
    with app.app_context():
        rows = db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
        ).all()
        foreign_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == other.id))
    sign_in(client, "camille@example.org")
    page = client.get("/accounts/profile", headers=EN)
    listed = set(map(int, re.findall(rb'id="api-token-(\d+)"', page.data)))
    assert listed == {row.id for row in rows}
    # Another person's token is not this page's to revoke.
    assert client.post(f"/accounts/tokens/{foreign_id}/revoke").status_code == 404
    assert _me(api, foreign) == 200
    response = client.post(
        f"/accounts/tokens/{rows[1].id}/revoke", headers=EN, follow_redirects=True
    )
    assert b"The API token was revoked" in response.data
    assert _me(api, revoked) == 401
    assert _me(api, kept) == 200
    page = client.get("/accounts/profile", headers=EN)
    assert set(map(int, re.findall(rb'id="api-token-(\d+)"', page.data))) == {rows[0].id}

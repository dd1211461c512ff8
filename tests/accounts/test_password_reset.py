"""Password reset: the same answer for any address, a single-use expiring link, no sign-in."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from marketplace.accounts.models import AccountToken, User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.security import verify_password
from tests.accounts.helpers import GOOD_PASSWORD, session_user_id
from tests.conftest import PASSWORD

NEW = {"password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD}


def test_same_answer_for_a_known_and_an_unknown_address(client, create_user, outbox):
    create_user("known@example.org")
    known = client.post("/accounts/password/forgot", data={"email": "known@example.org"})
    unknown = client.post("/accounts/password/forgot", data={"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"] == unknown.headers["Location"]
    assert (
        client.get(known.headers["Location"]).data == client.get(unknown.headers["Location"]).data
    )
    assert [mail.template for mail in outbox(to="known@example.org")] == ["accounts/reset"]
    assert outbox(to="nobody@example.org") == []


def test_disabled_account_gets_no_link_and_the_same_answer(app, client, create_user, outbox):
    user = create_user("gone@example.org")
    with app.app_context():
        db.session.get(User, user.id).disabled_at = utcnow()
        db.session.commit()
    response = client.post("/accounts/password/forgot", data={"email": "gone@example.org"})
    assert response.headers["Location"].endswith("/accounts/password/forgot/sent")
    assert outbox(to="gone@example.org") == []


def test_reset_sets_the_password_once_without_signing_in(
    app, client, create_user, sign_in, mail_token
):
    user = create_user("camille@example.org")
    client.post("/accounts/password/forgot", data={"email": "camille@example.org"})
    token = mail_token("camille@example.org", "reset")
    assert len(token) >= 43
    assert client.get(f"/accounts/password/reset/{token}").status_code == 200
    response = client.post(f"/accounts/password/reset/{token}", data=NEW)
    assert response.status_code == 302
    assert response.headers["Location"] == "/accounts/login"
    assert session_user_id(client) is None
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert verify_password(stored.password_hash, GOOD_PASSWORD)
        assert stored.session_version == 2
    # Single use.
    again = client.post(f"/accounts/password/reset/{token}", data={**NEW, "password": "x" * 20})
    assert again.status_code == 400
    assert b'id="invalid-link"' in again.data
    assert client.get(f"/accounts/password/reset/{token}").status_code == 400
    assert sign_in(client, "camille@example.org", PASSWORD).status_code == 422
    assert sign_in(client, "camille@example.org", GOOD_PASSWORD).status_code == 302


def test_expired_reset_link_is_refused(app, client, create_user, mail_token):
    user = create_user("camille@example.org")
    client.post("/accounts/password/forgot", data={"email": "camille@example.org"})
    token = mail_token("camille@example.org", "reset")
    with app.app_context():
        db.session.execute(
            update(AccountToken)
            .where(AccountToken.user_id == user.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    assert client.get(f"/accounts/password/reset/{token}").status_code == 400
    assert client.post(f"/accounts/password/reset/{token}", data=NEW).status_code == 400
    with app.app_context():
        assert verify_password(db.session.get(User, user.id).password_hash, PASSWORD)


def test_reset_link_lasts_two_hours(app, client, create_user):
    user = create_user("camille@example.org")
    client.post("/accounts/password/forgot", data={"email": "camille@example.org"})
    with app.app_context():
        token = db.session.scalar(select(AccountToken).where(AccountToken.user_id == user.id))
        lifetime = token.expires_at - token.created_at
    assert timedelta(hours=1, minutes=59) < lifetime <= timedelta(hours=2, seconds=1)


def test_weak_or_mismatched_new_password_keeps_the_link(app, client, create_user, mail_token):
    user = create_user("camille@example.org")
    client.post("/accounts/password/forgot", data={"email": "camille@example.org"})
    token = mail_token("camille@example.org", "reset")
    weak = client.post(
        f"/accounts/password/reset/{token}", data={"password": "iloveyou", "confirm": "iloveyou"}
    )
    assert weak.status_code == 422
    assert b'id="password-error"' in weak.data
    differ = client.post(
        f"/accounts/password/reset/{token}", data={**NEW, "confirm": GOOD_PASSWORD + "!"}
    )
    assert differ.status_code == 422
    assert b'id="confirm-error"' in differ.data
    with app.app_context():
        assert verify_password(db.session.get(User, user.id).password_hash, PASSWORD)
    assert client.post(f"/accounts/password/reset/{token}", data=NEW).status_code == 302


def test_a_new_request_voids_the_previous_link(client, create_user, mail_token):
    create_user("camille@example.org")
    client.post("/accounts/password/forgot", data={"email": "camille@example.org"})
    first = mail_token("camille@example.org", "reset")
    client.post("/accounts/password/forgot", data={"email": "camille@example.org"})
    assert client.get(f"/accounts/password/reset/{first}").status_code == 400


def test_reset_ends_sessions_on_other_devices(app, client, create_user, sign_in, mail_token):
    create_user("camille@example.org")
    other_device = app.test_client()
    sign_in(other_device, "camille@example.org")
    assert other_device.get("/accounts/profile").status_code == 200
    client.post("/accounts/password/forgot", data={"email": "camille@example.org"})
    client.post(f"/accounts/password/reset/{mail_token('camille@example.org', 'reset')}", data=NEW)
    assert other_device.get("/accounts/profile").status_code == 302

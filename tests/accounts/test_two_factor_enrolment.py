"""Staff two-factor enrolment needs a single-use link mailed to the staff member.

Enrolling at the first password sign-in let whoever learnt a new staff member's password
first own their second factor; an admin's "reset two-factor" reopened that window. Now the
password sign-in of an unenrolled staff member only mails a link (valid one hour, once); the
link, the password again and a first code from the new device enrol; recovery codes follow.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select, update

from marketplace.accounts.models import AccountToken, User
from marketplace.database import utcnow
from marketplace.extensions import db
from tests.accounts.helpers import session_user_id
from tests.conftest import PASSWORD

EN = {"Accept-Language": "en"}
LINK = re.compile(r"/accounts/two-factor/enrol/([A-Za-z0-9_\-]+)")


def _link(outbox, to: str) -> str:
    for message in reversed(outbox(to=to)):
        match = LINK.search(message.body_text)
        if match:
            return match.group(0)
    raise AssertionError(f"no enrolment link mailed to {to}")


def _secret(app, user_id: int) -> str | None:
    with app.app_context():
        return db.session.get(User, user_id).totp_secret


def _enrolled(app, user_id: int) -> bool:
    with app.app_context():
        return db.session.get(User, user_id).totp_enabled_at is not None


@pytest.fixture
def newcomer(create_user):
    return create_user("new-admin@example.org", roles=("admin",), totp=False, locale="en")


def test_the_first_password_sign_in_mails_a_link_and_enrols_nothing(
    app, client, newcomer, sign_in, outbox
):
    response = sign_in(client, "new-admin@example.org", headers=EN)
    assert response.status_code == 200
    assert b"We sent you an e-mail" in response.data
    assert session_user_id(client) is None
    assert _secret(app, newcomer.id) is None
    (mail,) = outbox(to="new-admin@example.org")
    assert mail.template == "accounts/two_factor_enrol"
    assert LINK.search(mail.body_text)
    # No way to the secret without the link.
    assert client.get("/accounts/two-factor/setup").status_code == 302
    assert client.get("/accounts/two-factor").status_code == 302
    assert _secret(app, newcomer.id) is None


def test_the_link_the_password_and_a_first_code_enrol_once(app, client, newcomer, sign_in, outbox):
    sign_in(client, "new-admin@example.org")
    link = _link(outbox, "new-admin@example.org")
    browser = app.test_client()  # the link may open in another browser
    page = browser.get(link, headers=EN)
    assert page.status_code == 200
    assert b'name="password"' in page.data
    assert b"<svg" not in page.data
    assert _secret(app, newcomer.id) is None
    wrong = browser.post(link, data={"password": "not the password"}, headers=EN)
    assert wrong.status_code == 422
    assert _secret(app, newcomer.id) is None
    shown = browser.post(link, data={"password": PASSWORD}, headers=EN)
    assert shown.status_code == 200
    secret = _secret(app, newcomer.id)
    assert secret
    assert secret.encode() in shown.data
    assert b"<svg" in shown.data
    assert browser.post(link, data={"code": "123456"}).status_code == 422
    assert not _enrolled(app, newcomer.id)
    done = browser.post(link, data={"code": pyotp.TOTP(secret).now()}, headers=EN)
    assert done.status_code == 200
    codes = re.findall(rb"<li><code>([0-9a-f]{8}-[0-9a-f]{8})</code></li>", done.data)
    assert len(codes) == 10
    assert _enrolled(app, newcomer.id)
    with browser.session_transaction() as session:
        assert session["mfa"] is True
        assert session["_user_id"].startswith(f"{newcomer.id}:")
    # Single use.
    assert app.test_client().get(link).status_code == 400
    # The next sign-in asks for a code; a recovery code is one.
    other = app.test_client()
    assert sign_in(other, "new-admin@example.org").headers["Location"] == "/accounts/two-factor"
    assert other.post("/accounts/two-factor", data={"code": codes[0].decode()}).status_code == 302


def test_the_link_alone_shows_no_secret_and_enrols_nothing(app, client, newcomer, sign_in, outbox):
    sign_in(client, "new-admin@example.org")
    link = _link(outbox, "new-admin@example.org")
    holder = app.test_client()  # has the mailbox, not the password
    guessed = pyotp.random_base32()
    with app.app_context():
        db.session.get(User, newcomer.id).totp_secret = guessed
        db.session.commit()
    assert holder.post(link, data={"code": pyotp.TOTP(guessed).now()}).status_code == 422
    assert not _enrolled(app, newcomer.id)


def test_the_link_expires_after_an_hour(app, client, newcomer, sign_in, outbox):
    sign_in(client, "new-admin@example.org")
    link = _link(outbox, "new-admin@example.org")
    with app.app_context():
        row = db.session.scalar(
            select(AccountToken).where(
                AccountToken.user_id == newcomer.id, AccountToken.purpose == "totp_enrol"
            )
        )
        assert abs(row.expires_at - row.created_at - timedelta(hours=1)) < timedelta(seconds=5)
        db.session.execute(
            update(AccountToken)
            .where(AccountToken.id == row.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    assert app.test_client().get(link).status_code == 400


def test_enrolment_does_not_accept_an_old_recovery_code(app, client, newcomer, sign_in, outbox):
    from marketplace.accounts import second_factor

    with app.app_context():
        leftover = second_factor.new_recovery_codes(db.session.get(User, newcomer.id))
        db.session.commit()
    sign_in(client, "new-admin@example.org")
    link = _link(outbox, "new-admin@example.org")
    client.post(link, data={"password": PASSWORD})
    assert client.post(link, data={"code": leftover[0]}).status_code == 422
    assert not _enrolled(app, newcomer.id)


def test_an_admin_reset_mails_a_link_and_the_password_alone_enrols_nothing(
    app, create_user, login, sign_in, outbox
):
    from tests.conftest import TOTP_SECRET

    admin = create_user("chief@example.org", roles=("admin",))
    staff = create_user("mod@example.org", roles=("moderator",), locale="en")
    assert _secret(app, staff.id) == TOTP_SECRET
    admin_client = login(app.test_client(), admin)
    assert admin_client.post(f"/admin/users/{staff.id}/two-factor/reset").status_code == 302
    assert [m.template for m in outbox(to="mod@example.org")] == ["accounts/two_factor_enrol"]
    # Whoever knows the password now gets no enrolment page, only another mail.
    thief = app.test_client()
    response = sign_in(thief, "mod@example.org", headers=EN)
    assert response.status_code == 200
    assert session_user_id(thief) is None
    assert _secret(app, staff.id) is None


def test_the_enrolment_pages_are_for_staff(app, client, create_user, login, outbox):
    login(client, create_user(alumni=True), mfa=False)
    assert client.get("/accounts/two-factor/setup").status_code == 404
    assert client.post("/accounts/two-factor/setup").status_code == 404


def test_signed_in_staff_without_totp_ask_for_the_link(app, client, create_user, login, outbox):
    """A person made staff while signed in: staff pages send them to ask for a link."""
    user = create_user("new-mod@example.org", roles=("moderator",), totp=False, locale="en")
    login(client, user, mfa=False)
    assert client.get("/accounts/two-factor").headers["Location"] == "/accounts/two-factor/setup"
    page = client.get("/accounts/two-factor/setup", headers=EN)
    assert page.status_code == 200
    assert _secret(app, user.id) is None
    sent = client.post("/accounts/two-factor/setup", headers=EN)
    assert sent.status_code == 200
    assert b"We sent you an e-mail" in sent.data
    assert _link(outbox, "new-mod@example.org")

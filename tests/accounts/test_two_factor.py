"""Staff sign in with TOTP: codes, recovery codes, enrolment, and no way around it."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from marketplace.accounts import second_factor, services
from marketplace.accounts.models import RecoveryCode, User
from marketplace.extensions import db
from tests.accounts.helpers import GOOD_PASSWORD, session_user_id, wrong_totp_code
from tests.conftest import totp_now


def _session(client) -> dict:
    with client.session_transaction() as session:
        return dict(session)


def _recovery_codes(app, user_id: int) -> list[str]:
    with app.app_context():
        user = db.session.get(User, user_id)
        codes = second_factor.new_recovery_codes(user)
        db.session.commit()
        return codes


def test_staff_password_alone_does_not_sign_in(client, create_user, sign_in):
    user = create_user("mod@example.org", roles=("moderator",))
    response = sign_in(client, "mod@example.org", query_string={"next": "/accounts/profile"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/accounts/two-factor?next=/accounts/profile"
    session = _session(client)
    assert "_user_id" not in session
    assert session["pending_2fa"] == user.get_id()
    assert client.get("/accounts/profile").status_code == 302
    assert client.get("/accounts/two-factor").status_code == 200


def test_wrong_code_is_refused(client, create_user, sign_in):
    create_user("mod@example.org", roles=("moderator",))
    sign_in(client, "mod@example.org")
    response = client.post("/accounts/two-factor", data={"code": wrong_totp_code()})
    assert response.status_code == 422
    assert b'id="code-error"' in response.data
    assert session_user_id(client) is None
    assert client.post("/accounts/two-factor", data={"code": "not-a-code"}).status_code == 422


def test_correct_code_signs_in_with_mfa(app, client, create_user, sign_in):
    user = create_user("mod@example.org", roles=("moderator",))
    sign_in(client, "mod@example.org", query_string={"next": "/accounts/profile"})
    response = client.post(
        "/accounts/two-factor",
        data={"code": totp_now()},
        query_string={"next": "/accounts/profile"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/accounts/profile"
    session = _session(client)
    assert session["_user_id"] == user.get_id()
    assert session["mfa"] is True
    assert "pending_2fa" not in session
    with app.app_context():
        assert db.session.get(User, user.id).last_login_at is not None


def test_a_treasurer_without_next_lands_on_the_treasury_dashboard(client, create_user, sign_in):
    create_user("cash@example.org", roles=("treasurer",))
    sign_in(client, "cash@example.org")
    response = client.post("/accounts/two-factor", data={"code": totp_now()})
    assert response.status_code == 302
    assert response.headers["Location"] == "/treasury/"


def test_a_moderator_without_next_lands_on_the_home_page(client, create_user, sign_in):
    create_user("mod@example.org", roles=("moderator",))
    sign_in(client, "mod@example.org")
    response = client.post("/accounts/two-factor", data={"code": totp_now()})
    assert response.headers["Location"] == "/"


def test_a_code_works_only_once(client, app, create_user, sign_in):
    create_user("mod@example.org", roles=("moderator",))
    code = totp_now()
    sign_in(client, "mod@example.org")
    assert client.post("/accounts/two-factor", data={"code": code}).status_code == 302
    client.post("/accounts/logout")
    sign_in(client, "mod@example.org")
    assert client.post("/accounts/two-factor", data={"code": code}).status_code == 422
    assert session_user_id(client) is None


def test_remember_me_is_applied_after_the_code(client, create_user, sign_in):
    create_user("mod@example.org", roles=("moderator",))
    response = sign_in(client, "mod@example.org", remember=True)
    assert "remember_token" not in " ".join(response.headers.getlist("Set-Cookie"))
    response = client.post("/accounts/two-factor", data={"code": totp_now()})
    assert "remember_token=" in " ".join(response.headers.getlist("Set-Cookie"))


def test_recovery_code_works_once(app, client, create_user, sign_in):
    user = create_user("mod@example.org", roles=("moderator",))
    codes = _recovery_codes(app, user.id)
    sign_in(client, "mod@example.org")
    response = client.post("/accounts/two-factor", data={"code": codes[0].upper()})
    assert response.status_code == 302
    assert _session(client)["mfa"] is True
    client.post("/accounts/logout")
    sign_in(client, "mod@example.org")
    assert client.post("/accounts/two-factor", data={"code": codes[0]}).status_code == 422
    assert client.post("/accounts/two-factor", data={"code": codes[1]}).status_code == 302
    with app.app_context():
        used = db.session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_not(None))
        )
        assert used == 2


def test_pending_state_dies_with_a_logout_elsewhere(app, client, create_user, sign_in):
    user = create_user("mod@example.org", roles=("moderator",))
    sign_in(client, "mod@example.org")
    with app.app_context():
        services.logout_everywhere(db.session.get(User, user.id))
        db.session.commit()
    response = client.post("/accounts/two-factor", data={"code": totp_now()})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/accounts/login")
    assert session_user_id(client) is None


def test_pending_state_expires(client, create_user, sign_in):
    create_user("mod@example.org", roles=("moderator",))
    sign_in(client, "mod@example.org")
    with client.session_transaction() as session:
        session["pending_at"] -= 11 * 60
    response = client.post("/accounts/two-factor", data={"code": totp_now()})
    assert response.headers["Location"].startswith("/accounts/login")
    assert session_user_id(client) is None


def test_signed_in_staff_without_mfa_pass_the_code_in_place(client, create_user, login):
    user = create_user("mod@example.org", roles=("moderator",))
    login(client, user, mfa=False)
    assert client.get("/accounts/two-factor").status_code == 200
    assert client.post("/accounts/two-factor", data={"code": wrong_totp_code()}).status_code == 422
    assert not _session(client).get("mfa")
    response = client.post(
        "/accounts/two-factor",
        data={"code": totp_now()},
        query_string={"next": "/accounts/profile"},
    )
    assert response.headers["Location"] == "/accounts/profile"
    session = _session(client)
    assert session["mfa"] is True
    assert session["_user_id"] == user.get_id()


def test_two_factor_page_sends_others_away(client, create_user, login):
    assert client.get("/accounts/two-factor").headers["Location"].startswith("/accounts/login")
    login(client, create_user(), mfa=False)
    assert client.get("/accounts/two-factor").headers["Location"] == "/"


def test_alumni_sign_in_without_a_code(client, create_user, sign_in):
    create_user("alum@example.org", alumni=True)
    assert sign_in(client, "alum@example.org").headers["Location"] == "/"
    assert session_user_id(client) is not None


def test_password_reset_does_not_bypass_two_factor(app, client, create_user, sign_in, mail_token):
    create_user("mod@example.org", roles=("moderator",))
    client.post("/accounts/password/forgot", data={"email": "mod@example.org"})
    token = mail_token("mod@example.org", "reset")
    response = client.post(
        f"/accounts/password/reset/{token}",
        data={"password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/accounts/login"
    assert session_user_id(client) is None
    response = sign_in(client, "mod@example.org", GOOD_PASSWORD)
    assert response.headers["Location"] == "/accounts/two-factor"
    assert session_user_id(client) is None


def test_recovery_codes_can_be_renewed_with_a_current_code(app, client, create_user, login):
    user = create_user("mod@example.org", roles=("moderator",))
    old = _recovery_codes(app, user.id)
    login(client, user)
    page = client.get("/accounts/two-factor/recovery-codes")
    assert page.status_code == 200
    assert b'id="remaining-codes"' in page.data
    refused = client.post("/accounts/two-factor/recovery-codes", data={"code": wrong_totp_code()})
    assert refused.status_code == 422
    response = client.post("/accounts/two-factor/recovery-codes", data={"code": totp_now()})
    assert response.status_code == 200
    new = re.findall(rb"<li><code>([0-9a-f]{8}-[0-9a-f]{8})</code></li>", response.data)
    assert len(new) == 10
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert not second_factor.use_recovery_code(stored, old[0])
        assert second_factor.use_recovery_code(stored, new[0].decode())
        db.session.rollback()


def test_recovery_codes_page_needs_an_enrolled_account(client, create_user, login):
    login(client, create_user(), mfa=False)
    assert client.get("/accounts/two-factor/recovery-codes").status_code == 404


def test_two_factor_is_throttled(client, create_user, sign_in, rate_limits):
    create_user("mod@example.org", roles=("moderator",))
    sign_in(client, "mod@example.org")
    # The password and the codes share the account's one login budget of ten a minute.
    for _ in range(9):
        assert client.post("/accounts/two-factor", data={"code": "000000x"}).status_code == 422
    assert client.post("/accounts/two-factor", data={"code": totp_now()}).status_code == 429
    assert session_user_id(client) is None

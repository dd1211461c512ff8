"""The signed-in reader of a page that only reads, from one cached row per user, invalidated
by any committed change to what it is read from (marketplace/accounts/loader.py, issue 17)."""

from __future__ import annotations

from marketplace.accounts.loader import load_cached_reader
from marketplace.accounts.models import User, UserRole
from marketplace.cache import cache
from marketplace.database import utcnow
from marketplace.extensions import db

EN = {"Accept-Language": "en"}


def _reader_statements(statements: list[str]) -> list[str]:
    return [s for s in statements if "FROM users" in s]


def test_a_page_that_only_reads_takes_the_reader_from_the_cache(
    app, client, reader_cache, create_user, login, count_queries
):
    login(client, create_user(alumni=True, status="verified", locale="en"))
    client.get("/privacy/", headers=EN)
    with count_queries() as statements:
        assert client.get("/privacy/", headers=EN).status_code == 200
    assert _reader_statements(statements) == []
    # A form's POST loads its reader from the database: one query.
    with count_queries() as statements:
        client.post("/language", data={"locale": "fr", "next": "/privacy/"})
    assert len(_reader_statements(statements)) == 1


def test_a_committed_change_reaches_the_next_page(app, client, reader_cache, create_user, login):
    user = create_user(alumni=True, status="verified", locale="en")
    login(client, user)
    assert 'id="nav-treasury"' not in client.get("/privacy/", headers=EN).text
    with app.app_context():
        db.session.add(UserRole(user_id=user.id, role="treasurer"))
        db.session.commit()
    with client.session_transaction() as session:
        session["mfa"] = True
    assert 'id="nav-treasury"' in client.get("/privacy/", headers=EN).text


def test_a_disabled_account_or_an_ended_session_is_refused_at_once(
    app, client, reader_cache, create_user, login
):
    user = create_user(alumni=True, status="verified", locale="en")
    login(client, user)
    assert client.get("/offers/wallet/").status_code == 200
    with app.app_context():
        db.session.get(User, user.id).disabled_at = utcnow()
        db.session.commit()
    assert client.get("/offers/wallet/").status_code == 302
    other = create_user(alumni=True, status="verified", locale="en")
    login(client, other)
    assert client.get("/offers/wallet/").status_code == 200
    with app.app_context():
        db.session.get(User, other.id).session_version += 1  # "sign out everywhere"
        db.session.commit()
    assert client.get("/offers/wallet/").status_code == 302


def test_secrets_never_reach_the_cache_and_load_when_read(app, reader_cache, create_user):
    user = create_user(alumni=True, status="verified", roles=("moderator",))
    with app.test_request_context("/"):
        db.session.expunge_all()
        assert load_cached_reader(user.id) is not None  # loaded, then kept
        db.session.expunge_all()
        rebuilt = load_cached_reader(user.id)
        assert rebuilt.roles == {"moderator"}
        assert rebuilt.alumni_profile.school is not None
        _versions, snapshot = cache.get(f"reader:{user.id}:{utcnow().date().isoformat()}")
        assert snapshot["user"]["email"] == user.email
        assert "password_hash" not in snapshot["user"]
        assert "totp_secret" not in snapshot["user"]
        # Read on the rebuilt object, they come from the database.
        assert rebuilt.password_hash.startswith("$argon2")
        assert rebuilt.totp_secret


def test_a_token_is_read_once_then_from_the_cache_until_revoked(
    app, client, reader_cache, create_user, count_queries
):
    from marketplace.accounts.models import ApiToken
    from marketplace.accounts.services import issue_api_token

    user = create_user(alumni=True, status="verified", locale="en")
    with app.app_context():
        token, row = issue_api_token(db.session.get(User, user.id))
        db.session.commit()
        token_id = row.id
    db.session.expunge_all()  # as in production: each request starts with an empty session
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    db.session.expunge_all()
    with count_queries() as statements:
        assert client.get("/api/v1/me", headers=headers).get_json()["id"] == user.id
    assert statements == []
    with app.app_context():
        db.session.get(ApiToken, token_id).revoked_at = utcnow()
        db.session.commit()
    db.session.expunge_all()
    assert client.get("/api/v1/me", headers=headers).status_code == 401

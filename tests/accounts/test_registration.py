"""Registration of an alumnus, the confirmation link, and what nobody can learn from them."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from marketplace.accounts.models import AccountToken, AlumniProfile, User, VerificationStatus
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.security import common_passwords
from tests.accounts.helpers import GOOD_PASSWORD, PDF, session_user_id

# The werkzeug test client leaks a temporary file for bodies over 500 KB, so the size limit is
# checked with a smaller one (the default of 5 MB is checked in test_services).
SMALL_LIMIT = 64 * 1024


@pytest.fixture
def small_upload_limit(app):
    saved = app.config["MAX_UPLOAD_BYTES"]
    app.config["MAX_UPLOAD_BYTES"] = SMALL_LIMIT
    yield
    app.config["MAX_UPLOAD_BYTES"] = saved


def _user_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def _user(app, email: str) -> User | None:
    with app.app_context():
        return db.session.scalar(select(User).where(User.email == email))


def test_registration_page_lists_active_schools_and_localised_countries(client, school):
    response = client.get("/accounts/register", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert b'list="school-list"' in response.data
    assert f'<option value="{school.name}">'.encode() in response.data
    assert b'<option value="PT">Portugal</option>' in response.data
    response = client.get("/accounts/register", headers={"Accept-Language": "fr"})
    assert b'<option value="DE">Allemagne</option>' in response.data


def test_inactive_school_is_not_offered_nor_accepted(app, client, create_school, registration):
    closed = create_school(name="Lycée fermé")
    with app.app_context():
        db.session.get(type(closed), closed.id).active = False
        db.session.commit()
    assert b"Lyc\xc3\xa9e ferm\xc3\xa9" not in client.get("/accounts/register").data
    response = client.post("/accounts/register", data=registration(school="Lycée fermé"))
    assert response.status_code == 422
    assert b'id="school-error"' in response.data
    assert _user(app, "ines.duval@example.org") is None


def test_registration_creates_user_profile_and_confirmation_mail(
    app, client, school, registration, outbox
):
    response = client.post(
        "/accounts/register",
        data=registration(email="Ines.Duval@Example.org", school=school.name.upper()),
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/accounts/register/check-inbox")
    # Registering does not sign in (else the answer would differ for a known address).
    assert session_user_id(client) is None
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "ines.duval@example.org"))
        assert user is not None
        assert user.email_confirmed_at is None
        assert user.locale == "en"
        assert user.password_hash.startswith("$argon2id$")
        profile = user.alumni_profile
        assert profile.school_id == school.id
        assert (profile.graduation_year, profile.country, profile.city) == (2012, "PT", "Lisbonne")
        assert profile.status == VerificationStatus.PENDING
        assert profile.evidence_filename is None
    mails = outbox(to="ines.duval@example.org")
    assert [mail.template for mail in mails] == ["accounts/confirm"]
    assert "http://localhost/accounts/confirm/" in mails[0].body_text
    assert "http://localhost/accounts/confirm/" in mails[0].body_html
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert b'id="check-inbox"' in page.data


def test_existing_email_gets_the_same_answer_and_a_mail_not_a_second_account(
    app, client, create_user, registration, outbox
):
    create_user("taken@example.org", locale="en")
    new = client.post("/accounts/register", data=registration(email="fresh@example.org"))
    taken = client.post(
        "/accounts/register", data=registration(email="TAKEN@example.org", full_name="Someone")
    )
    assert (taken.status_code, taken.headers["Location"]) == (
        new.status_code,
        new.headers["Location"],
    )
    assert client.get(taken.headers["Location"]).data == client.get(new.headers["Location"]).data
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).select_from(User).where(User.email == "taken@example.org")
            )
            == 1
        )
        user = db.session.scalar(select(User).where(User.email == "taken@example.org"))
        assert user.full_name == "Camille Martin"
        assert user.alumni_profile is None
    mails = outbox(to="taken@example.org")
    assert [mail.template for mail in mails] == ["accounts/already_registered"]
    assert "http://localhost/accounts/password/forgot" in mails[0].body_text


@pytest.mark.parametrize(
    "password",
    [
        "short12",  # 7 characters
        "iloveyou",  # in the common list
        "Password1",  # in the common list, whatever the case
        "x" * 129,  # longer than accepted
        "",
    ],
)
def test_weak_short_common_or_overlong_password_is_refused(app, client, registration, password):
    if password in ("iloveyou", "Password1"):
        with app.app_context():
            assert password.lower() in common_passwords()
    before = _user_count(app)
    response = client.post("/accounts/register", data=registration(password=password))
    assert response.status_code == 422
    assert b'id="password-error"' in response.data
    assert _user_count(app) == before


def test_no_composition_rule_a_long_lowercase_passphrase_is_fine(app, client, registration):
    response = client.post("/accounts/register", data=registration(password="lowercase only"))
    assert response.status_code == 302
    assert _user(app, "ines.duval@example.org") is not None


def test_a_128_character_password_is_kept_whole(app, client, registration, sign_in):
    password = "é" + "0123456789abcdef" * 8
    password = password[:128]
    assert len(password) == 128
    assert client.post("/accounts/register", data=registration(password=password)).status_code == (
        302
    )
    # Not truncated: a prefix does not open the account, the whole password does.
    assert sign_in(client, "ines.duval@example.org", password[:127]).status_code == 422
    assert sign_in(client, "ines.duval@example.org", password[:72]).status_code == 422
    response = sign_in(client, "ines.duval@example.org", password)
    assert response.status_code == 302
    assert session_user_id(client) is not None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("full_name", ""),
        ("email", "not-an-address"),
        ("graduation_year", "1949"),
        ("graduation_year", str(utcnow().year + 2)),
        ("graduation_year", "twenty"),
        ("country", "XX"),
        ("country", ""),
        ("city", ""),
        ("school", "A school that is not in the network"),
    ],
)
def test_bad_field_re_renders_the_form_and_writes_nothing(
    app, client, registration, outbox, field, value
):
    before = _user_count(app)
    response = client.post("/accounts/register", data=registration(**{field: value}))
    assert response.status_code == 422
    assert f'id="{field}-error"'.encode() in response.data
    assert _user_count(app) == before
    assert outbox() == []


def test_graduation_year_bounds_are_accepted(app, client, registration):
    next_year = str(utcnow().year + 1)
    response = client.post(
        "/accounts/register", data=registration(graduation_year=next_year, email="a@example.org")
    )
    assert response.status_code == 302
    response = client.post(
        "/accounts/register", data=registration(graduation_year="1950", email="b@example.org")
    )
    assert response.status_code == 302


def test_evidence_file_is_stored_outside_static_under_a_random_name(
    app, client, registration, evidence_files
):
    before = evidence_files()
    data = registration()
    data["evidence"] = (io.BytesIO(PDF), "diplôme 2012.pdf")
    response = client.post("/accounts/register", data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    added = evidence_files() - before
    assert len(added) == 1
    stored = added.pop()
    assert stored.endswith(".pdf")
    assert "dipl" not in stored
    with app.app_context():
        profile = db.session.scalar(
            select(AlumniProfile)
            .join(User, User.id == AlumniProfile.user_id)
            .where(User.email == "ines.duval@example.org")
        )
        assert profile.evidence_filename == stored
        assert profile.evidence_original_name == "diplôme 2012.pdf"
        assert profile.evidence_content_type == "application/pdf"
    assert "static" not in app.config["UPLOAD_FOLDER"]


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"<html><script>alert(1)</script></html>", "diploma.pdf"),
        (b"MZ\x90\x00 an executable", "diploma.pdf"),
        (b"%PDF-" + b"0" * SMALL_LIMIT, "huge.pdf"),
    ],
)
def test_bad_evidence_file_is_refused_and_nothing_is_written(
    app, client, registration, evidence_files, outbox, small_upload_limit, content, name
):
    before_files, before_users = evidence_files(), _user_count(app)
    data = registration()
    data["evidence"] = (io.BytesIO(content), name)
    response = client.post("/accounts/register", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert b'id="evidence-error"' in response.data
    assert evidence_files() == before_files
    assert _user_count(app) == before_users
    assert outbox() == []


def test_evidence_sent_with_a_taken_address_is_not_kept(
    app, client, create_user, registration, evidence_files
):
    create_user("taken@example.org")
    before = evidence_files()
    data = registration(email="taken@example.org")
    data["evidence"] = (io.BytesIO(PDF), "diploma.pdf")
    response = client.post("/accounts/register", data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    assert evidence_files() == before


def test_signed_in_people_are_sent_to_their_profile(client, create_user, login):
    login(client, create_user(), mfa=False)
    response = client.get("/accounts/register")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/accounts/profile")


# ---------------------------------------------------------------- confirmation


def test_confirmation_link_confirms_once(app, client, registration, mail_token):
    client.post("/accounts/register", data=registration())
    token = mail_token("ines.duval@example.org", "confirm")
    assert len(token) >= 43  # 256 bits, URL-safe base64
    # Opening the link shows a button: a mail scanner's GET changes nothing.
    page = client.get(f"/accounts/confirm/{token}")
    assert page.status_code == 200
    assert _user(app, "ines.duval@example.org").email_confirmed_at is None
    response = client.post(f"/accounts/confirm/{token}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/accounts/login")
    assert _user(app, "ines.duval@example.org").email_confirmed_at is not None
    again = client.post(f"/accounts/confirm/{token}")
    assert again.status_code == 400
    assert b'id="invalid-link"' in again.data
    assert client.get(f"/accounts/confirm/{token}").status_code == 400


def test_confirmation_signed_in_goes_to_the_status_page(
    app, client, create_user, login, mail_token
):
    user = create_user("pending@example.org", alumni=True, confirmed=False)
    login(client, user, mfa=False)
    assert client.post("/accounts/confirm/resend").status_code == 302
    token = mail_token("pending@example.org", "confirm")
    response = client.post(f"/accounts/confirm/{token}")
    assert response.headers["Location"].endswith("/accounts/status")
    assert _user(app, "pending@example.org").email_confirmed_at is not None


def test_expired_confirmation_link_is_refused(app, client, registration, mail_token):
    client.post("/accounts/register", data=registration())
    token = mail_token("ines.duval@example.org", "confirm")
    with app.app_context():
        db.session.execute(update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert client.get(f"/accounts/confirm/{token}").status_code == 400
    assert client.post(f"/accounts/confirm/{token}").status_code == 400
    assert _user(app, "ines.duval@example.org").email_confirmed_at is None


def test_unknown_confirmation_token_is_refused(client):
    assert client.get("/accounts/confirm/not-a-token").status_code == 400
    assert client.post("/accounts/confirm/not-a-token").status_code == 400


def test_resend_confirmation_voids_the_previous_link(
    app, client, create_user, login, outbox, mail_token
):
    user = create_user("late@example.org", confirmed=False)
    login(client, user, mfa=False)
    client.post("/accounts/confirm/resend")
    first = mail_token("late@example.org", "confirm")
    client.post("/accounts/confirm/resend")
    second = mail_token("late@example.org", "confirm")
    assert first != second
    assert len(outbox(to="late@example.org")) == 2
    assert client.post(f"/accounts/confirm/{first}").status_code == 400
    assert client.post(f"/accounts/confirm/{second}").status_code == 302


def test_resend_is_not_offered_once_confirmed(client, create_user, login, outbox):
    login(client, create_user("done@example.org"), mfa=False)
    assert client.post("/accounts/confirm/resend").status_code == 302
    assert outbox(to="done@example.org") == []


def test_registration_password_is_the_one_that_signs_in(app, client, registration, sign_in):
    client.post("/accounts/register", data=registration())
    assert sign_in(client, "ines.duval@example.org", GOOD_PASSWORD).status_code == 302


# ---------------------------------------------------------------- faults


def test_nul_characters_are_refused_not_a_server_error(app, client, registration, sign_in):
    """NUL is not text a person types (PostgreSQL refuses it): a 400 page, nothing stored."""
    response = client.post(
        "/accounts/register", data=registration(full_name="Inès\x00 Duval", city="Lis\x00bonne")
    )
    assert response.status_code == 400
    assert b"<html" in response.data.lower()
    assert _user(app, "ines.duval@example.org") is None
    assert sign_in(client, "ines.duval@example.org\x00", "wrong password").status_code == 400


def test_a_failed_commit_leaves_no_file_and_no_row(
    app, client, registration, evidence_files, monkeypatch
):
    """The database fails at the end of the request: the stored file goes too."""
    from sqlalchemy.exc import OperationalError

    def lost_connection():
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    before_files, before_users = evidence_files(), _user_count(app)
    monkeypatch.setattr(db.session, "commit", lost_connection)
    data = registration()
    data["evidence"] = (io.BytesIO(PDF), "diploma.pdf")
    response = client.post("/accounts/register", data=data, content_type="multipart/form-data")
    monkeypatch.undo()
    assert response.status_code == 503
    assert evidence_files() == before_files
    assert _user_count(app) == before_users


def test_an_unwritable_upload_folder_answers_an_error_page_and_writes_nothing(
    app, client, registration, outbox, tmp_path
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the upload folder should be")
    saved = app.config["UPLOAD_FOLDER"]
    app.config["UPLOAD_FOLDER"] = str(blocker)
    try:
        data = registration()
        data["evidence"] = (io.BytesIO(PDF), "diploma.pdf")
        response = client.post("/accounts/register", data=data, content_type="multipart/form-data")
    finally:
        app.config["UPLOAD_FOLDER"] = saved
    assert response.status_code == 500
    assert b"<h1>" in response.data
    assert _user(app, "ines.duval@example.org") is None
    assert outbox() == []


@pytest.mark.parametrize(
    "variant",
    [
        "\uff41\uff4c\uff49\uff43\uff45@example.org",  # full-width letters
        "ALICE@EXAMPLE.ORG",
        "alice@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.org",  # full-width domain
        " Alice@Example.org ",
    ],
)
def test_a_look_alike_address_opens_no_second_account(
    app, client, create_user, registration, outbox, sign_in, variant
):
    """Addresses are compared in NFKC, lower case: ａｌｉｃｅ@ is alice@."""
    create_user("alice@example.org", locale="en")
    response = client.post("/accounts/register", data=registration(email=variant))
    assert response.status_code == 302
    with app.app_context():
        emails = db.session.scalars(select(User.email).where(User.email.like("%example.org"))).all()
    assert emails == ["alice@example.org"]
    assert [mail.template for mail in outbox(to="alice@example.org")] == [
        "accounts/already_registered"
    ]
    # The same form signs in to the one account.
    assert sign_in(client, variant).status_code == 302

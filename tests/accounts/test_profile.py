"""The profile page, the language preference, the status page and the evidence download."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from marketplace.accounts.models import AlumniProfile, User, VerificationStatus
from marketplace.audit import AuditLog
from marketplace.extensions import db
from marketplace.security import verify_password
from tests.accounts.helpers import GOOD_PASSWORD, PDF
from tests.conftest import PASSWORD

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _profile(app, user_id: int) -> AlumniProfile:
    with app.app_context():
        return db.session.scalar(select(AlumniProfile).where(AlumniProfile.user_id == user_id))


def _set_profile(app, user_id: int, **values) -> None:
    with app.app_context():
        profile = db.session.scalar(select(AlumniProfile).where(AlumniProfile.user_id == user_id))
        for name, value in values.items():
            setattr(profile, name, value)
        db.session.commit()


def _stored_evidence(app, client, user_id: int, content: bytes = PDF, name="diploma.pdf"):
    """Give the alumnus an evidence file the way the registration stores one."""
    from marketplace.accounts.evidence import store_evidence

    with app.test_request_context():
        stored, content_type = store_evidence(io.BytesIO(content), name)
    _set_profile(
        app,
        user_id,
        evidence_filename=stored,
        evidence_original_name=name,
        evidence_content_type=content_type,
    )
    return stored


# ---------------------------------------------------------------- profile


def test_profile_shows_the_account(client, create_user, login):
    user = create_user("alum@example.org", alumni=True, locale="en")
    login(client, user, mfa=False)
    response = client.get("/accounts/profile")
    assert response.status_code == 200
    assert b"alum@example.org" in response.data
    assert b'name="country"' in response.data
    assert b'name="current_password"' in response.data
    assert b"Confirmed" in response.data


def test_unconfirmed_profile_offers_a_new_link(client, create_user, login, outbox):
    user = create_user("new@example.org", confirmed=False, locale="en")
    login(client, user, mfa=False)
    page = client.get("/accounts/profile")
    assert b"Not confirmed yet" in page.data
    assert b'action="/accounts/confirm/resend"' in page.data
    client.post("/accounts/confirm/resend")
    assert [mail.template for mail in outbox(to="new@example.org")] == ["accounts/confirm"]


def test_staff_without_alumni_profile_have_no_country_fields(client, create_user, login):
    login(client, create_user(roles=("moderator",)))
    page = client.get("/accounts/profile")
    assert page.status_code == 200
    assert b'name="country"' not in page.data
    assert b'id="two-factor-state"' in page.data


def test_profile_update_is_saved(app, client, create_user, login):
    user = create_user(alumni=True)
    login(client, user, mfa=False)
    response = client.post(
        "/accounts/profile",
        data={"full_name": " Camille Dupont ", "locale": "fr", "country": "ES", "city": "Madrid"},
    )
    assert response.status_code == 302
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert stored.full_name == "Camille Dupont"
        assert (stored.alumni_profile.country, stored.alumni_profile.city) == ("ES", "Madrid")


@pytest.mark.parametrize(
    ("field", "value"),
    [("full_name", ""), ("locale", "de"), ("country", "ZZ"), ("city", "")],
)
def test_bad_profile_input_is_refused(app, client, create_user, login, field, value):
    user = create_user(alumni=True, full_name="Camille Martin")
    login(client, user, mfa=False)
    data = {"full_name": "New Name", "locale": "en", "country": "ES", "city": "Madrid"}
    data[field] = value
    response = client.post("/accounts/profile", data=data)
    assert response.status_code == 422
    assert f'id="{field}-error"'.encode() in response.data
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert stored.full_name == "Camille Martin"
        assert stored.locale == "fr"


def test_language_preference_is_persisted_and_used(app, client, create_user, login):
    user = create_user(alumni=True, locale="fr")
    login(client, user, mfa=False)
    assert b'<html lang="fr"' in client.get("/accounts/profile").data
    client.post(
        "/accounts/profile",
        data={"full_name": "Camille Martin", "locale": "en", "country": "PT", "city": "Lisbonne"},
    )
    with app.app_context():
        assert db.session.get(User, user.id).locale == "en"
    # The account's choice wins over the browser's.
    page = client.get("/accounts/status", headers={"Accept-Language": "fr"})
    assert b'<html lang="en"' in page.data
    assert b"Your alumni status" in page.data
    # The choice stays with the browser after signing out.
    client.post("/accounts/logout")
    assert b'<html lang="en"' in client.get("/").data


def test_password_change_needs_the_current_password(app, client, create_user, login):
    user = create_user(locale="en")
    login(client, user, mfa=False)
    data = {
        "current_password": "not my password",
        "new_password": GOOD_PASSWORD,
        "confirm_password": GOOD_PASSWORD,
    }
    response = client.post("/accounts/password", data=data)
    assert response.status_code == 422
    assert b'id="current_password-error"' in response.data
    weak = client.post(
        "/accounts/password",
        data={
            "current_password": PASSWORD,
            "new_password": "iloveyou",
            "confirm_password": "iloveyou",
        },
    )
    assert weak.status_code == 422
    assert b'id="new_password-error"' in weak.data
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert verify_password(stored.password_hash, PASSWORD)
        assert stored.session_version == 1


def test_password_change_keeps_the_staff_session_two_factored(app, client, create_user, login):
    user = create_user(roles=("moderator",))
    login(client, user)
    response = client.post(
        "/accounts/password",
        data={
            "current_password": PASSWORD,
            "new_password": GOOD_PASSWORD,
            "confirm_password": GOOD_PASSWORD,
        },
    )
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert session["mfa"] is True
        assert session["_user_id"] == f"{user.id}:2"
    with app.app_context():
        assert verify_password(db.session.get(User, user.id).password_hash, GOOD_PASSWORD)


# ---------------------------------------------------------------- status


@pytest.mark.parametrize(
    ("status", "marker"),
    [
        ("pending", b"is checking your registration"),
        ("verified", b"has verified that you are an alumnus"),
    ],
)
def test_status_page_shows_the_state(client, create_user, login, status, marker):
    login(client, create_user(alumni=True, status=status, locale="en"), mfa=False)
    response = client.get("/accounts/status")
    assert response.status_code == 200
    assert f'data-status="{status}"'.encode() in response.data
    assert marker in response.data


def test_refused_status_shows_the_reason_and_message(app, client, create_user, login):
    user = create_user(alumni=True, status="refused", locale="en")
    _set_profile(
        app, user.id, refusal_reason="identity_mismatch", moderator_message="Name <b>differs</b>"
    )
    login(client, user, mfa=False)
    response = client.get("/accounts/status")
    assert b"The name does not match the school&#39;s records." in response.data
    assert b"Name &lt;b&gt;differs&lt;/b&gt;" in response.data


def test_status_page_is_for_alumni(client, create_user, login):
    login(client, create_user(roles=("moderator",)))
    assert client.get("/accounts/status").status_code == 404


def test_answering_an_information_request(app, client, create_user, login, evidence_files):
    user = create_user(alumni=True, status="info_requested", locale="en")
    old = _stored_evidence(app, client, user.id)
    _set_profile(app, user.id, moderator_message="Please send your diploma.")
    login(client, user, mfa=False)
    page = client.get("/accounts/status")
    assert b"Please send your diploma." in page.data
    assert b'name="answer"' in page.data
    response = client.post(
        "/accounts/status/answer",
        data={"answer": "Here it is.", "evidence": (io.BytesIO(PNG), "scan.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    profile = _profile(app, user.id)
    assert profile.status == VerificationStatus.PENDING
    assert profile.member_answer == "Here it is."
    assert profile.evidence_original_name == "scan.png"
    assert profile.evidence_content_type == "image/png"
    assert profile.evidence_filename in evidence_files()
    # The replaced file is gone.
    assert old not in evidence_files()
    with app.app_context():
        assert db.session.scalar(
            select(AuditLog).where(
                AuditLog.action == "member.info_answered", AuditLog.object_id == user.id
            )
        )


def test_answer_with_a_bad_file_changes_nothing(app, client, create_user, login, evidence_files):
    user = create_user(alumni=True, status="info_requested")
    login(client, user, mfa=False)
    before = evidence_files()
    response = client.post(
        "/accounts/status/answer",
        data={"answer": "Here", "evidence": (io.BytesIO(b"<html></html>"), "scan.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert b'id="evidence-error"' in response.data
    assert evidence_files() == before
    profile = _profile(app, user.id)
    assert profile.status == VerificationStatus.INFO_REQUESTED
    assert profile.member_answer is None


def test_no_answer_when_nothing_was_asked(app, client, create_user, login):
    user = create_user(alumni=True, status="pending")
    login(client, user, mfa=False)
    response = client.post("/accounts/status/answer", data={"answer": "Unasked"})
    assert response.status_code == 302
    assert _profile(app, user.id).member_answer is None


# ---------------------------------------------------------------- evidence download


def test_owner_downloads_the_evidence_as_a_sandboxed_attachment(app, client, create_user, login):
    user = create_user(alumni=True)
    _stored_evidence(app, client, user.id, name="diplôme.pdf")
    login(client, user, mfa=False)
    with client.get("/accounts/evidence") as response:
        assert response.status_code == 200
        assert response.data == PDF
        assert response.headers["Content-Type"] == "application/pdf"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert "dipl%C3%B4me.pdf" in response.headers["Content-Disposition"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"] == "sandbox"


def test_evidence_is_only_the_owners(app, client, create_user, login):
    owner = create_user(alumni=True)
    _stored_evidence(app, client, owner.id)
    login(client, create_user(alumni=True), mfa=False)
    assert client.get("/accounts/evidence").status_code == 404
    anonymous = app.test_client()
    assert anonymous.get("/accounts/evidence").status_code == 302


def test_uploaded_name_with_control_characters_is_cleaned(app, client, create_user, login):
    user = create_user(alumni=True, status="info_requested")
    login(client, user, mfa=False)
    response = client.post(
        "/accounts/status/answer",
        data={"answer": "Here", "evidence": (io.BytesIO(PDF), "scans/2020\tscan\x07.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert _profile(app, user.id).evidence_original_name == "2020scan.pdf"
    with client.get("/accounts/evidence") as download:
        assert download.status_code == 200
        assert download.headers["Content-Disposition"] == "attachment; filename=2020scan.pdf"

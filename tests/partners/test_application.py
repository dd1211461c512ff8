"""The public partner application: as a visitor, as a signed-in person, refused input."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.extensions import db
from partners import services
from partners.models import Partner, PartnerMember, PartnerStatus, TeamRole
from tests.conftest import PASSWORD
from tests.partners.conftest import JPEG, PNG

EN = {"Accept-Language": "en"}


def _form(**changes):
    data = {
        "name": "Librairie Dupont",
        "country": "PT",
        "website": "https://dupont.example.com",
        "description": "Books in French, shipped worldwide.",
        "contact_name": "Claire Dupont",
        "contact_email": "claire@dupont.example.com",
        "contact_phone": "+351 21 000 0000",
        "password": PASSWORD,
    }
    data.update(changes)
    return data


def _counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Partner)),
            db.session.scalar(select(func.count()).select_from(PartnerMember)),
            db.session.scalar(select(func.count()).select_from(User)),
        )


def test_the_form_shows_countries(client):
    response = client.get("/partners/apply", headers=EN)
    assert response.status_code == 200
    assert b'name="country"' in response.data
    assert b'value="PT"' in response.data
    assert b'name="password"' in response.data


def test_a_visitor_applies_and_gets_an_account(app, client, outbox, logo_files):
    before = set(logo_files())
    data = _form(logo=(io.BytesIO(PNG), "logo.png"))
    response = client.post(
        "/partners/apply", data=data, content_type="multipart/form-data", headers=EN
    )

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/partners/apply/check-inbox")
    with app.app_context():
        partner = db.session.scalar(select(Partner).where(Partner.name == "Librairie Dupont"))
        assert partner.status == PartnerStatus.PENDING
        assert partner.slug == "librairie-dupont"
        assert partner.country == "PT"
        assert partner.contact_phone == "+351 21 000 0000"
        user = db.session.scalar(select(User).where(User.email == "claire@dupont.example.com"))
        assert user.email_confirmed_at is None
        assert user.full_name == "Claire Dupont"
        (member,) = partner.members
        assert (member.user_id, member.role) == (user.id, TeamRole.OWNER)
        new_files = set(logo_files()) - before
        assert [path.name for path in new_files] == [partner.logo_filename]
        assert partner.logo_filename.endswith(".png")
    templates = [mail.template for mail in outbox(to="claire@dupont.example.com")]
    assert sorted(templates) == ["accounts/confirm", "partners/application_received"]


def test_a_signed_in_person_becomes_the_owner(app, client, create_user, login, outbox):
    user = create_user("sam@example.org", locale="en")
    login(client, user)
    response = client.get("/partners/apply")
    assert b'name="password"' not in response.data

    response = client.post(
        "/partners/apply", data=_form(contact_email="sales@dupont.example.com", password="")
    )

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/partners/application-status")
    with app.app_context():
        partner = db.session.scalar(select(Partner).where(Partner.name == "Librairie Dupont"))
        (member,) = partner.members
        assert member.user_id == user.id
        assert member.role == TeamRole.OWNER
        assert (
            db.session.scalar(select(User).where(User.email == "sales@dupont.example.com")) is None
        )
    (mail,) = outbox(to="sales@dupont.example.com")
    assert mail.template == "partners/application_received"
    assert mail.subject == "We received your partner application"


def test_slugs_are_unique(app, client, create_user, login):
    login(client, create_user())
    for _ in range(3):
        assert client.post("/partners/apply", data=_form(password="")).status_code == 302
    with app.app_context():
        slugs = db.session.scalars(select(Partner.slug).order_by(Partner.id)).all()
    assert slugs == ["librairie-dupont", "librairie-dupont-2", "librairie-dupont-3"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"country": "XX"}, "country"),
        ({"website": "not a url"}, "website"),
        ({"description": ""}, "description"),
        ({"contact_email": "nope"}, "contact_email"),
        ({"password": "short"}, "password"),
        ({"password": "password123"}, "password"),
        ({"logo": (io.BytesIO(b"<html><script>alert(1)</script>"), "logo.png")}, "logo"),
        ({"logo": (io.BytesIO(b"GIF89a" + b"\x00" * 20), "logo.gif")}, "logo"),
    ],
)
def test_bad_input_changes_nothing(app, client, outbox, logo_files, changes, field):
    before = (_counts(app), set(logo_files()), len(outbox()))
    response = client.post(
        "/partners/apply",
        data=_form(**changes),
        content_type="multipart/form-data",
        headers=EN,
    )
    assert response.status_code == 422
    assert f'id="{field}-error"'.encode() in response.data
    assert (_counts(app), set(logo_files()), len(outbox())) == before


def test_a_logo_over_the_size_limit_is_refused(app, client, outbox, logo_files, monkeypatch):
    # A small limit keeps the upload in memory (the real one is 1 MB).
    monkeypatch.setattr(services, "LOGO_MAX_BYTES", len(PNG) - 1)
    before = (_counts(app), set(logo_files()), len(outbox()))
    response = client.post(
        "/partners/apply",
        data=_form(logo=(io.BytesIO(PNG), "logo.png")),
        content_type="multipart/form-data",
        headers=EN,
    )
    assert response.status_code == 422
    assert b"larger than 1 MB" in response.data
    assert (_counts(app), set(logo_files()), len(outbox())) == before


def test_the_logo_limit_is_one_megabyte(app):
    assert services.LOGO_MAX_BYTES == 1024 * 1024
    with app.app_context(), pytest.raises(services.InvalidLogo):
        services.store_logo(io.BytesIO(PNG + b"\x00" * services.LOGO_MAX_BYTES))


def test_a_jpeg_logo_is_accepted(app, client, logo_files):
    before = set(logo_files())
    response = client.post(
        "/partners/apply",
        data=_form(logo=(io.BytesIO(JPEG), "logo.jpeg")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    (path,) = set(logo_files()) - before
    assert path.suffix == ".jpg"
    assert path.read_bytes() == JPEG


def test_a_taken_address_does_not_enumerate(app, client, create_user, outbox, logo_files):
    create_user("claire@dupont.example.com", locale="en")
    fresh = app.test_client()
    fresh_response = fresh.post("/partners/apply", data=_form(contact_email="new@example.com"))
    before = (_counts(app), set(logo_files()))

    response = client.post(
        "/partners/apply",
        data=_form(logo=(io.BytesIO(PNG), "logo.png")),
        content_type="multipart/form-data",
    )

    # The same answer as for a new address; nothing created, no file kept.
    assert response.status_code == fresh_response.status_code == 302
    assert response.headers["Location"] == fresh_response.headers["Location"]
    assert (_counts(app), set(logo_files())) == before
    (mail,) = outbox(to="claire@dupont.example.com")
    assert mail.template == "partners/sign_in_first"
    assert "/accounts/login" in mail.body_text
    for page in (
        client.get(response.headers["Location"]),
        fresh.get(fresh_response.headers["Location"]),
    ):
        assert page.status_code == 200
        assert b'id="check-inbox"' in page.data


def test_applications_are_rate_limited_per_ip(client, rate_limits):
    statuses = [client.post("/partners/apply", data=_form(name="")).status_code for _ in range(11)]
    assert statuses[:10] == [422] * 10
    assert statuses[10] == 429

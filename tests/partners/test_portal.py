"""The partner portal: dashboard, application status, company profile, logo, navigation."""

from __future__ import annotations

import io
from pathlib import Path

from flask import Flask

from marketplace.extensions import db
from offers.models import Offer, OfferStatus
from partners.models import Partner
from tests.partners.conftest import PNG

EN = {"Accept-Language": "en"}


def _add_offers(app: Flask, partner_id: int, *statuses: OfferStatus) -> None:
    with app.app_context():
        for status in statuses:
            db.session.add(Offer(partner_id=partner_id, status=status, title_en="An offer"))
        db.session.commit()


def _store_logo(app: Flask, partner_id: int) -> str:
    name = "0123456789abcdef0123456789abcdef.png"
    folder = Path(app.config["UPLOAD_FOLDER"]) / "logos"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(PNG)
    with app.app_context():
        db.session.get(Partner, partner_id).logo_filename = name
        db.session.commit()
    return name


def test_the_dashboard_shows_the_partner_and_its_offers(
    app, client, login, create_partner, add_member
):
    team = create_partner("Acme")
    add_member(team)
    other = create_partner("Other Co")
    _add_offers(
        app, team.partner_id, OfferStatus.DRAFT, OfferStatus.PUBLISHED, OfferStatus.PUBLISHED
    )
    _add_offers(app, other.partner_id, OfferStatus.PUBLISHED, OfferStatus.PAUSED)
    login(client, team.owner)

    response = client.get("/partners/dashboard", headers=EN)

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Acme" in page
    assert "2 active representatives" in page
    assert 'id="offers-published">2<' in page
    assert 'id="offers-draft">1<' in page
    assert 'id="offers-paused">0<' in page  # the other partner's paused offer is not counted


def test_an_empty_dashboard_says_offers_will_appear(client, login, create_partner):
    team = create_partner()
    login(client, team.owner)
    assert b'id="offers-empty"' in client.get("/partners/dashboard").data


def test_the_nav_links_to_the_portal_for_representatives_only(
    client, login, create_partner, create_user
):
    team = create_partner()
    login(client, team.owner)
    assert b'href="/partners/dashboard"' in client.get("/").data
    login(client, create_user(alumni=True, status="verified"))
    assert b'href="/partners/dashboard"' not in client.get("/").data


def test_a_pending_applicant_sees_the_review_status(client, login, create_partner):
    team = create_partner(status="pending")
    login(client, team.owner)
    response = client.get("/partners/dashboard")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/partners/application-status")
    page = client.get("/partners/application-status", headers=EN)
    assert page.status_code == 200
    assert b"being reviewed" in page.data


def test_a_refused_applicant_sees_the_reason(app, client, login, create_partner):
    team = create_partner(status="refused")
    with app.app_context():
        db.session.get(Partner, team.partner_id).refusal_reason = "Outside our network."
        db.session.commit()
    login(client, team.owner)
    assert client.get("/partners/dashboard").status_code == 302
    page = client.get("/partners/application-status", headers=EN)
    assert b"Outside our network." in page.data
    assert client.get("/partners/team").status_code == 403


def test_someone_without_a_partner_gets_403_and_404(client, login, create_user):
    login(client, create_user())
    assert client.get("/partners/dashboard").status_code == 403
    assert client.get("/partners/application-status").status_code == 404


def test_an_owner_edits_the_profile_and_logo(app, client, login, create_partner, logo_files):
    team = create_partner()
    old = _store_logo(app, team.partner_id)
    login(client, team.owner)
    assert client.get("/partners/profile").status_code == 200

    response = client.post(
        "/partners/profile",
        data={
            "description": "New description.",
            "website": "https://acme.example.com",
            "contact_name": "Nina",
            "contact_email": "Nina@Acme.example.com",
            "contact_phone": "",
            "logo": (io.BytesIO(PNG + b"new"), "new.png"),
            "name": "Renamed",
            "status": "refused",
        },
        content_type="multipart/form-data",
    )

    assert response.status_code == 302
    with app.app_context():
        partner = db.session.get(Partner, team.partner_id)
        assert partner.description == "New description."
        assert partner.website == "https://acme.example.com"
        assert partner.contact_email == "nina@acme.example.com"
        assert partner.contact_phone is None
        assert partner.logo_filename != old
        assert partner.status.value == "approved"  # not settable from the form
        assert partner.name != "Renamed"
    names = {path.name for path in logo_files()}
    assert partner.logo_filename in names
    assert old not in names  # the replaced logo is removed


def test_a_bad_logo_leaves_the_profile_unchanged(app, client, login, create_partner, logo_files):
    team = create_partner()
    login(client, team.owner)
    before = set(logo_files())
    response = client.post(
        "/partners/profile",
        data={
            "description": "Changed",
            "contact_name": "Nina",
            "contact_email": "nina@acme.example.com",
            "logo": (io.BytesIO(b"<svg onload=alert(1)>"), "logo.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert set(logo_files()) == before
    with app.app_context():
        assert db.session.get(Partner, team.partner_id).description == "We sell things."


def test_the_logo_of_an_approved_partner_is_public(app, client, create_partner):
    team = create_partner()
    _store_logo(app, team.partner_id)
    response = client.get(f"/partners/{team.partner_id}/logo")
    assert response.status_code == 200
    assert response.data == PNG
    assert response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    response.close()


def test_no_logo_for_pending_partners_or_without_file(app, client, create_partner):
    pending = create_partner(status="pending")
    _store_logo(app, pending.partner_id)
    assert client.get(f"/partners/{pending.partner_id}/logo").status_code == 404
    without = create_partner()
    assert client.get(f"/partners/{without.partner_id}/logo").status_code == 404
    assert client.get("/partners/987654/logo").status_code == 404


def test_the_dashboard_issues_the_same_queries_whatever_the_offers(
    app, client, login, create_partner, count_queries
):
    team = create_partner()
    login(client, team.owner)
    _add_offers(app, team.partner_id, OfferStatus.DRAFT)
    client.get("/partners/dashboard")  # warm-up
    with count_queries() as few:
        assert client.get("/partners/dashboard").status_code == 200
    _add_offers(app, team.partner_id, *([OfferStatus.PUBLISHED] * 10 + [OfferStatus.PAUSED] * 10))
    with count_queries() as many:
        response = client.get("/partners/dashboard")
    assert 'id="offers-published">10<' in response.get_data(as_text=True)
    assert len(few) == len(many)

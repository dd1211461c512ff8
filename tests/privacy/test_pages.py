"""Legal pages: public policy and notice in French and English, the register for admins,
edits by admins only (sanitised, audited), footer links and the partners' statement."""

from __future__ import annotations

from sqlalchemy import select

from marketplace.audit import AuditLog
from marketplace.extensions import db
from marketplace.privacy.models import LegalPage


def _english(client):
    client.post("/language", data={"locale": "en", "next": "/"})


def test_policy_names_controller_purposes_retention_and_contact(client):
    html = client.get("/privacy/").get_data(as_text=True)
    assert "Responsable du traitement" in html
    for period in ("3 mois", "2 ans", "30 jours", "6 mois", "10 ans"):
        assert period in html
    assert "{contact}" not in html
    assert "{association}" not in html
    assert "no-reply@alumni.example.org" in html  # the contact from the mail sender by default
    _english(client)
    html = client.get("/privacy/").get_data(as_text=True)
    assert "Data controller" in html
    assert "Legal basis" in html or "legal bases" in html


def test_legal_notice_and_partner_statement_are_public(client):
    assert client.get("/privacy/legal-notice").status_code == 200
    html = client.get("/privacy/partners").get_data(as_text=True)
    assert "responsable de traitement" in html


def test_footer_links_on_every_page(client):
    html = client.get("/").get_data(as_text=True)
    assert 'id="footer-privacy"' in html
    assert 'id="footer-legal"' in html


def test_register_is_for_admins(client, login, create_user):
    assert client.get("/privacy/register").status_code == 302
    login(client, create_user(alumni=True, status="verified"))
    assert client.get("/privacy/register").status_code == 403
    admin_client = client.application.test_client()
    login(admin_client, create_user(roles=("admin",)))
    html = admin_client.get("/privacy/register").get_data(as_text=True)
    for activity in (
        "Comptes et vérification",
        "Adhésion et paiements",
        "Offres et codes",
        "Emplois et candidatures",
        "Alertes et nouvelles",
        "Portail partenaires",
        "Journaux",
    ):
        assert activity in html
    assert "Base légale" in html
    assert "Transferts" in html


def test_admin_edits_a_page_sanitised_and_audited(app, client, login, create_user):
    admin = create_user(roles=("admin",))
    login(client, admin)
    assert client.get("/privacy/pages/legal/edit").status_code == 200
    response = client.post(
        "/privacy/pages/legal/edit",
        data={
            "title_fr": "Mentions",
            "title_en": "Notice",
            "body_fr": "Édité par **{association}** <script>alert(1)</script>",
            "body_en": "Published by us",
        },
    )
    assert response.status_code == 302
    html = client.get("/privacy/legal-notice").get_data(as_text=True)
    assert "<strong>" in html
    assert "<script>alert" not in html
    assert "Mentions" in html
    with app.app_context():
        page = db.session.scalar(select(LegalPage).where(LegalPage.slug == "legal"))
        assert page.updated_by_id == admin.id
        entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "legal_page.updated"))
        assert entry.actor_id == admin.id
        assert entry.details["slug"] == "legal"


def test_non_admins_cannot_edit(app, client, login, create_user):
    for roles in ((), ("moderator",), ("treasurer",)):
        other = client.application.test_client()
        login(other, create_user(roles=roles, alumni=not roles, status="verified"))
        response = other.post(
            "/privacy/pages/privacy/edit",
            data={"title_fr": "x", "title_en": "x", "body_fr": "x", "body_en": "x"},
        )
        assert response.status_code == 403
    assert client.post("/privacy/pages/privacy/edit", data={"title_fr": "x"}).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(LegalPage)) is None


def test_an_unknown_page_is_not_found(client, login, create_user):
    login(client, create_user(roles=("admin",)))
    assert client.get("/privacy/pages/nope/edit").status_code == 404


def test_profile_links_to_my_data(client, login, create_user):
    login(client, create_user())
    assert b'id="my-data-link"' in client.get("/accounts/profile").data


def test_every_privacy_write_needs_its_csrf_token(app, client, login, create_user, csrf_enabled):
    admin = create_user(roles=("admin",), alumni=True, status="verified")
    login(client, admin)
    urls = [
        rule.rule.replace("<page_slug>", "privacy").replace("<token>", "x")
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("privacy.") and "POST" in (rule.methods or set())
    ]
    assert len(urls) == 6
    for url in urls:
        response = client.post(url, data={"x": "1"})
        assert response.status_code == 400, url
        assert b'data-error="csrf"' in response.data, url

"""The main navigation and the partner dashboard link to the offers pages for the right people."""

from __future__ import annotations

import pytest

from marketplace.extensions import db
from partners.models import Partner, PartnerMember, PartnerStatus, TeamRole

ALL_LINKS = ("nav-offers", "nav-wallet", "nav-offer-review", "nav-partner-applications")


def _links(client) -> set[str]:
    response = client.get("/", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    return {link for link in ALL_LINKS if f'id="{link}"' in html}


def test_visitors_see_the_offers_only(client):
    assert _links(client) == {"nav-offers"}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("pending", {"nav-offers", "nav-wallet"}),
        ("verified", {"nav-offers", "nav-wallet"}),
        ("treasurer", {"nav-offers", "nav-wallet"}),
        ("moderator", set(ALL_LINKS)),
        ("admin", set(ALL_LINKS)),
    ],
)
def test_signed_in_links_by_role(client, create_user, login, kind, expected):
    if kind in ("pending", "verified"):
        user = create_user(alumni=True, status=kind)
    else:
        user = create_user(roles=(kind,))
    login(client, user)

    assert _links(client) == expected


def test_the_nav_links_lead_to_their_pages(client, create_user, login):
    login(client, create_user(roles=("moderator",)))
    html = client.get("/").get_data(as_text=True)
    for path in ("/offers/", "/offers/wallet/", "/offers/moderation/", "/partners/applications"):
        assert f'href="{path}"' in html
        assert client.get(path).status_code == 200


def test_partner_dashboard_links_to_the_offers_portal(app, client, create_user, login):
    owner = create_user("owner@example.org", locale="en")
    with app.app_context():
        partner = Partner(
            name="Nav Ltd",
            slug="nav-ltd",
            country="FR",
            contact_name="Owner",
            contact_email=owner.email,
            status=PartnerStatus.APPROVED,
        )
        db.session.add(partner)
        db.session.flush()
        db.session.add(PartnerMember(partner_id=partner.id, user_id=owner.id, role=TeamRole.OWNER))
        db.session.commit()
    login(client, owner)

    response = client.get("/partners/dashboard")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="portal-offers" href="/offers/manage/"' in html or (
        'href="/offers/manage/" id="portal-offers"' in html
    )
    assert 'href="/offers/manage/new"' in html
    for path in ("/offers/manage/", "/offers/manage/new"):
        assert client.get(path).status_code == 200

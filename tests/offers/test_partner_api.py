"""Partner offers API and offer moderation API."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from marketplace.audit import AuditLog
from marketplace.extensions import db
from offers.models import Offer, OfferCode, OfferStatus

NEW_OFFER = {
    "title": "Dix pour cent",
    "summary": "Pour les anciens.",
    "description": "Texte",
    "title_en": "Ten percent",
    "summary_en": "For alumni.",
    "countries": ["pt", "FR"],
    "online": True,
    "redemption_method": "shared_code",
    "shared_code": "ALUMNI",
    "total_limit": 50,
    "per_member_limit": 2,
    "limit_period": "month",
    "reveal_ttl_minutes": 30,
    "ends_at": "2031-01-01T00:00:00+00:00",
}


@pytest.fixture
def partner(create_partner):
    return create_partner(name="Musée Bleu")


@pytest.fixture
def auth(partner, api_headers):
    return api_headers(partner.owner)


def test_create_ignores_read_only_fields_and_returns_both_languages(app, client, partner, auth):
    other = partner.id + 1000
    body = {**NEW_OFFER, "status": "published", "partner_id": other, "redeemed_count": 99}
    response = client.post("/api/v1/partner/offers", json=body, headers=auth)
    assert response.status_code == 201, response.json
    data = response.json
    assert data["status"] == "draft"
    assert data["redeemed_count"] == 0
    assert data["partner"] == "Musée Bleu"
    assert data["title_fr"] == "Dix pour cent"
    assert data["title_en"] == "Ten percent"
    assert data["countries"] == ["FR", "PT"]
    assert data["limit_period"] == "month"
    with app.app_context():
        row = db.session.get(Offer, data["id"])
        assert row.partner_id == partner.id
        assert row.status == OfferStatus.DRAFT
        assert row.redeemed_count == 0


def test_localized_fields_follow_the_callers_language(
    client, partner, auth, create_offer, create_user, add_partner_member, api_headers
):
    offer = create_offer(partner, title_fr="Titre", title_en="Title")
    french = api_headers(add_partner_member(partner, create_user(locale="fr")))
    url = f"/api/v1/partner/offers/{offer.id}"
    assert client.get(url, headers=auth).json["title"] == "Title"  # the owner reads English
    assert client.get(url, headers=french).json["title"] == "Titre"


def test_invalid_input_is_422(client, auth):
    for body in (
        {**NEW_OFFER, "link_url": "http://x.example.com"},
        {**NEW_OFFER, "countries": ["XX"]},
        {**NEW_OFFER, "redemption_method": "magic"},
        {**NEW_OFFER, "per_member_limit": 0},
    ):
        assert client.post("/api/v1/partner/offers", json=body, headers=auth).status_code == 422


def test_full_lifecycle_through_the_api(app, client, partner, auth, create_user, api_headers):
    moderator = api_headers(create_user(roles=("moderator",)))
    offer_id = client.post("/api/v1/partner/offers", json=NEW_OFFER, headers=auth).json["id"]
    submitted = client.post(f"/api/v1/partner/offers/{offer_id}/submit", headers=auth)
    assert submitted.json["status"] == "submitted"
    assert client.patch(
        f"/api/v1/partner/offers/{offer_id}", json={"city": "Porto"}, headers=auth
    ).status_code == (409)
    response = client.post(
        f"/api/v1/moderation/offers/{offer_id}/request-changes", json={}, headers=moderator
    )
    assert response.status_code == 422
    response = client.post(
        f"/api/v1/moderation/offers/{offer_id}/request-changes",
        json={"reason": "Add a city."},
        headers=moderator,
    )
    assert response.json["status"] == "changes_requested"
    assert response.json["partner_id"] == partner.id
    edited = client.patch(
        f"/api/v1/partner/offers/{offer_id}", json={"city": "Porto"}, headers=auth
    )
    assert edited.json["city"] == "Porto"
    assert edited.json["moderator_message"] == "Add a city."
    client.post(f"/api/v1/partner/offers/{offer_id}/submit", headers=auth)
    approved = client.post(f"/api/v1/moderation/offers/{offer_id}/approve", headers=moderator)
    assert approved.json["status"] == "published"
    # A live edit: the approved version stays, the change waits.
    live = client.patch(
        f"/api/v1/partner/offers/{offer_id}",
        json={"title": "Nouveau", "status": "draft"},
        headers=auth,
    )
    assert live.status_code == 200
    assert live.json["title_fr"] == "Dix pour cent"
    assert live.json["status"] == "published"
    assert live.json["pending_changes"] == {"title_fr": "Nouveau"}
    rejected = client.post(
        f"/api/v1/moderation/offers/{offer_id}/reject", json={}, headers=moderator
    )
    assert rejected.status_code == 422
    rejected = client.post(
        f"/api/v1/moderation/offers/{offer_id}/reject",
        json={"reason": "Misleading."},
        headers=moderator,
    )
    assert rejected.json["status"] == "published"
    assert rejected.json["pending_changes"] is None
    assert rejected.json["title_fr"] == "Dix pour cent"
    with app.app_context():
        actions = db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["offer.changes_requested", "offer.approved", "offer.changes_rejected"]


def test_codes_endpoint_counts_duplicates(app, client, partner, auth, create_offer):
    offer = create_offer(partner, method="unique_codes", codes=["A"])
    response = client.post(
        f"/api/v1/partner/offers/{offer.id}/codes",
        json={"codes": ["A", "B", "B", " ", "C"]},
        headers=auth,
    )
    assert response.status_code == 201
    assert response.json == {"added": 2, "duplicates": 2}
    with app.app_context():
        count = select(func.count(OfferCode.id)).where(OfferCode.offer_id == offer.id)
        assert db.session.scalar(count) == 3


def test_list_is_paginated_and_scoped(client, partner, auth, create_offer, create_partner):
    for _ in range(3):
        create_offer(partner)
    create_offer(create_partner(name="Someone else"))
    response = client.get("/api/v1/partner/offers?page=1&page_size=2", headers=auth)
    assert response.status_code == 200
    assert len(response.json) == 2
    assert '"total": 3' in response.headers["X-Pagination"]
    assert {item["partner"] for item in response.json} == {"Musée Bleu"}
    too_big = client.get("/api/v1/partner/offers?page_size=101", headers=auth)
    assert too_big.status_code == 422


def test_manager_can_use_the_api(client, partner, create_offer, add_partner_member, api_headers):
    manager = api_headers(add_partner_member(partner))
    offer = create_offer(partner, status="draft")
    response = client.post(f"/api/v1/partner/offers/{offer.id}/submit", headers=manager)
    assert response.status_code == 200
    assert response.json["status"] == "submitted"


def test_anonymous_and_non_partners(client, create_user, api_headers, login):
    assert client.get("/api/v1/partner/offers").status_code == 401
    assert client.post("/api/v1/partner/offers", json=NEW_OFFER).status_code == 401
    alumnus = create_user(alumni=True, status="verified")
    headers = api_headers(alumnus)
    assert client.get("/api/v1/partner/offers", headers=headers).status_code == 403
    assert client.post("/api/v1/moderation/offers/1/approve", headers=headers).status_code == 403


def test_a_browser_session_cannot_write(client, login, partner):
    login(client, partner.owner)
    assert client.get("/api/v1/partner/offers").status_code == 200
    assert client.post("/api/v1/partner/offers", json=NEW_OFFER).status_code == 401


PARTNER_ROUTES = [
    ("get", "/api/v1/partner/offers/{id}", None),
    ("patch", "/api/v1/partner/offers/{id}", {"city": "Ailleurs"}),
    ("post", "/api/v1/partner/offers/{id}/submit", None),
    ("post", "/api/v1/partner/offers/{id}/codes", {"codes": ["Z"]}),
]


@pytest.mark.parametrize(("method", "route", "body"), PARTNER_ROUTES)
def test_another_partners_offer_is_404(
    app, client, auth, create_partner, create_offer, method, route, body
):
    theirs = create_offer(create_partner(name="Other"), status="draft", method="unique_codes")
    response = getattr(client, method)(route.format(id=theirs.id), json=body, headers=auth)
    assert response.status_code == 404
    with app.app_context():
        row = db.session.get(Offer, theirs.id)
        assert row.status == OfferStatus.DRAFT
        assert row.city is None
        assert db.session.scalar(select(func.count(OfferCode.id))) == 0


def test_the_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in (
        "/api/v1/partner/offers",
        "/api/v1/partner/offers/{offer_id}",
        "/api/v1/partner/offers/{offer_id}/submit",
        "/api/v1/partner/offers/{offer_id}/codes",
        "/api/v1/moderation/offers/{offer_id}/approve",
        "/api/v1/moderation/offers/{offer_id}/reject",
        "/api/v1/moderation/offers/{offer_id}/request-changes",
    ):
        assert path in paths

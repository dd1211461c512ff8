"""The public offers API: GET /api/v1/offers and GET /api/v1/offers/{id}."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from marketplace.database import utcnow

PUBLIC_FIELDS = {
    "id",
    "title",
    "summary",
    "description",
    "title_fr",
    "title_en",
    "summary_fr",
    "summary_en",
    "category",
    "countries",
    "city",
    "online",
    "starts_at",
    "ends_at",
    "audience",
    "redemption_method",
    "status",
    "partner",
    "redeemed_count",
}


def ids(response) -> list[int]:
    return [item["id"] for item in response.get_json()]


def test_list_returns_published_offers_without_codes_or_links(
    client, create_partner, create_offer, create_user, api_headers
):
    partner = create_partner(name="Rail Bleu")
    coded = create_offer(partner, shared_code="SECRET-CODE-42", category="travel", countries=["pt"])
    linked = create_offer(partner, method="link", link_url="https://secret.example.com/deal")
    create_offer(partner, status="draft")
    create_offer(partner, status="expired")

    for headers in ({}, api_headers(create_user(alumni=True, status="verified"))):
        response = client.get("/api/v1/offers", headers=headers)

        assert response.status_code == 200
        assert set(ids(response)) == {coded.id, linked.id}
        assert "SECRET-CODE-42" not in response.get_data(as_text=True)
        assert "secret.example.com" not in response.get_data(as_text=True)
        for item in response.get_json():
            assert set(item) == PUBLIC_FIELDS
    item = next(item for item in response.get_json() if item["id"] == coded.id)
    assert item["partner"] == "Rail Bleu"
    assert item["category"] == "travel"
    assert item["countries"] == ["PT"]
    assert item["status"] == "published"
    assert item["redemption_method"] == "shared_code"


def test_list_search_and_filters(client, create_partner, create_offer):
    alpha = create_partner(name="Alpha")
    beta = create_partner(name="Beta")
    kayak = create_offer(alpha, description_fr="Location de kayaks", countries=["PT"], online=False)
    cooking = create_offer(beta, description_en="Cooking classes", city="Lyon", category="food")
    worldwide = create_offer(beta, description_fr="Assurance des étudiants", online=True)

    def listed(**query) -> set[int]:
        response = client.get("/api/v1/offers", query_string=query)
        assert response.status_code == 200
        return set(ids(response))

    assert listed(q="kayak") == {kayak.id}
    assert listed(q="cooking") == {cooking.id}
    assert listed(q="etudiants") == {worldwide.id}
    assert listed(category="food") == {cooking.id}
    assert listed(country="pt") == {kayak.id, cooking.id, worldwide.id}
    assert listed(city="Lyon") == {cooking.id}
    assert listed(online="false") == {kayak.id}
    assert listed(partner=str(alpha.id)) == {kayak.id}
    assert listed(partner=beta.slug) == {cooking.id, worldwide.id}
    for attack in ['"', "*", "voyage OR", "NEAR(", "-kayak", "a:b"]:
        assert client.get("/api/v1/offers", query_string={"q": attack}).status_code == 200


def test_list_sorting(client, create_partner, create_offer):
    partner = create_partner()
    now = utcnow()
    popular = create_offer(partner, redeemed_count=9, published_at=now - timedelta(days=3))
    newest = create_offer(partner, ends_at=now + timedelta(days=60))
    ending = create_offer(
        partner, ends_at=now + timedelta(days=1), published_at=now - timedelta(days=1)
    )

    def order(sort: str) -> list[int]:
        return ids(client.get("/api/v1/offers", query_string={"sort": sort}))

    assert order("newest") == [newest.id, ending.id, popular.id]
    assert order("ending") == [ending.id, newest.id, popular.id]
    assert order("popular") == [popular.id, newest.id, ending.id]
    assert client.get("/api/v1/offers?sort=sideways").status_code == 422


def test_list_is_paginated(client, create_partner, create_offer):
    partner = create_partner()
    now = utcnow()
    offers = [
        create_offer(partner, published_at=now - timedelta(minutes=index)) for index in range(5)
    ]

    response = client.get("/api/v1/offers?page=2&page_size=2")

    assert response.status_code == 200
    assert ids(response) == [offers[2].id, offers[3].id]
    pagination = json.loads(response.headers["X-Pagination"])
    assert pagination["total"] == 5
    assert pagination["total_pages"] == 3
    assert pagination["page"] == 2
    assert client.get("/api/v1/offers?page_size=101").status_code == 422
    assert client.get("/api/v1/offers?page_size=100").status_code == 200


def test_get_one_published_offer(client, create_partner, create_offer):
    offer = create_offer(
        create_partner(), title_fr="Seulement en français", title_en=None, shared_code="SECRET"
    )

    response = client.get(f"/api/v1/offers/{offer.id}", headers={"Accept-Language": "en"})

    body = response.get_json()
    assert response.status_code == 200
    assert set(body) == PUBLIC_FIELDS
    assert body["title"] == "Seulement en français"
    assert body["title_en"] is None
    assert "SECRET" not in response.get_data(as_text=True)


@pytest.mark.parametrize("status", ["expired", "archived"])
def test_ended_offer_answers_gone(client, create_partner, create_offer, status):
    offer = create_offer(create_partner(), status=status)

    response = client.get(f"/api/v1/offers/{offer.id}")

    assert response.status_code == 410
    body = response.get_json()
    assert body["code"] == 410
    assert body["status"] == "Gone"
    assert body["message"]


def test_published_offer_past_its_end_date_answers_gone(client, create_partner, create_offer):
    offer = create_offer(create_partner(), ends_at=utcnow() - timedelta(seconds=1))

    assert client.get(f"/api/v1/offers/{offer.id}").status_code == 410
    assert offer.id not in ids(client.get("/api/v1/offers"))


@pytest.mark.parametrize("status", ["draft", "submitted", "rejected", "paused"])
def test_hidden_offers_are_not_found(client, create_partner, create_offer, status):
    offer = create_offer(create_partner(), status=status)

    response = client.get(f"/api/v1/offers/{offer.id}")

    assert response.status_code == 404
    assert response.get_json()["code"] == 404
    assert client.get("/api/v1/offers/999999999").status_code == 404


def test_openapi_documents_the_public_schema_without_secrets(client):
    spec = client.get("/api/v1/openapi.json").get_json()

    schema = spec["components"]["schemas"]["PublicOffer"]
    assert set(schema["properties"]) == PUBLIC_FIELDS
    assert "/api/v1/offers" in spec["paths"]
    assert "/api/v1/offers/{offer_id}" in spec["paths"]

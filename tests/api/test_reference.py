"""GET /api/v1/categories and /api/v1/membership/tiers: shapes and languages."""

from __future__ import annotations

import pytest


@pytest.mark.usefixtures("seed_reference")
@pytest.mark.parametrize(
    ("language", "names"),
    [("en", ["Travel", "Books"]), ("fr", ["Voyages", "Livres"]), (None, ["Voyages", "Livres"])],
)
def test_categories_in_the_callers_language(client, language, names):
    headers = {"Accept-Language": language} if language else {}
    response = client.get("/api/v1/categories", headers=headers)
    assert response.status_code == 200
    assert response.get_json() == [
        {"slug": "travel", "name": names[0]},
        {"slug": "books", "name": names[1]},
    ]


@pytest.mark.usefixtures("seed_reference")
@pytest.mark.parametrize(
    ("language", "first_name"), [("en", "Young graduate"), ("fr", "Jeune diplômé")]
)
def test_tiers_in_the_callers_language(client, language, first_name):
    response = client.get("/api/v1/membership/tiers", headers={"Accept-Language": language})
    assert response.status_code == 200
    tiers = response.get_json()
    assert [tier["code"] for tier in tiers] == ["young", "standard", "benefactor"]
    assert tiers[0] == {
        "code": "young",
        "name": first_name,
        "amount": 1500,
        "currency": "EUR",
        "months": 12,
    }


@pytest.mark.usefixtures("seed_reference")
def test_a_signed_in_callers_own_language_wins(client, create_user, login):
    user = create_user("en@example.org", locale="en")
    login(client, user, mfa=False)
    response = client.get("/api/v1/categories", headers={"Accept-Language": "fr"})
    assert response.get_json()[0]["name"] == "Travel"


def test_empty_catalogue_is_an_empty_list(client):
    assert client.get("/api/v1/categories").get_json() == []
    assert client.get("/api/v1/membership/tiers").get_json() == []

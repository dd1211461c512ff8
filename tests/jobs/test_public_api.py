"""The public jobs API: GET /api/v1/jobs and GET /api/v1/jobs/{id}."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from marketplace.database import utcnow

PUBLIC_FIELDS = {
    "id",
    "title",
    "description",
    "title_fr",
    "title_en",
    "description_fr",
    "description_en",
    "contract",
    "country",
    "city",
    "remote",
    "languages",
    "salary_min",
    "salary_max",
    "currency",
    "apply_deadline",
    "published_at",
    "status",
    "partner",
}


def ids(response) -> list[int]:
    return [item["id"] for item in response.get_json()]


def test_list_returns_open_published_jobs(
    client, create_partner, create_job, create_user, api_headers
):
    partner = create_partner(name="Chantiers Réunis")
    deadline = utcnow().date() + timedelta(days=7)
    job = create_job(
        partner,
        contract="vie",
        country="DE",
        city="Berlin",
        remote="hybrid",
        languages=("de", "en"),
        salary_min=30000,
        salary_max=36000,
        currency="EUR",
        apply_deadline=deadline,
    )
    create_job(partner, status="draft")
    create_job(partner, status="closed")
    create_job(partner, status="expired")

    for headers in ({}, api_headers(create_user(alumni=True, status="verified"))):
        response = client.get("/api/v1/jobs", headers=headers)

        assert response.status_code == 200
        assert ids(response) == [job.id]
        assert set(response.get_json()[0]) == PUBLIC_FIELDS
    item = response.get_json()[0]
    assert item["partner"] == "Chantiers Réunis"
    assert item["contract"] == "vie"
    assert item["country"] == "DE"
    assert item["city"] == "Berlin"
    assert item["remote"] == "hybrid"
    assert item["languages"] == ["de", "en"]
    assert (item["salary_min"], item["salary_max"], item["currency"]) == (30000, 36000, "EUR")
    assert item["apply_deadline"] == deadline.isoformat()
    assert item["status"] == "published"


def test_list_search_and_filters(client, create_partner, create_job):
    partner = create_partner()
    welder = create_job(
        partner,
        description_fr="Soudeur qualifié pour chantier naval.",
        description_en=None,
        contract="internship",
        country="PT",
        city="Porto",
        remote="onsite",
        languages=("pt",),
    )
    baker = create_job(
        partner,
        description_fr=None,
        description_en="Pastry chef for our bakery.",
        contract="permanent",
        country="FR",
        city="Lyon",
        remote="remote",
        languages=("fr", "en"),
    )

    def listed(**query) -> list[int]:
        response = client.get("/api/v1/jobs", query_string=query)
        assert response.status_code == 200
        return ids(response)

    assert listed(q="qualifie") == [welder.id]
    assert listed(q="pastry") == [baker.id]
    assert listed(contract="internship") == [welder.id]
    assert listed(country="fr") == [baker.id]
    assert listed(city="porto") == [welder.id]
    assert listed(remote="remote") == [baker.id]
    assert listed(language="en") == [baker.id]
    assert listed(language="pt", contract="internship") == [welder.id]
    assert listed(language="pt", contract="permanent") == []
    for attack in ['"', "*", "stage OR", "NEAR(", "-soudeur", "a:b"]:
        assert client.get("/api/v1/jobs", query_string={"q": attack}).status_code == 200
    assert client.get("/api/v1/jobs?contract=slavery").status_code == 422
    assert client.get("/api/v1/jobs?remote=sometimes").status_code == 422


def test_list_sorting(client, create_partner, create_job):
    partner = create_partner()
    now = utcnow()
    older = create_job(
        partner, published_at=now - timedelta(days=3), apply_deadline=now.date() + timedelta(1)
    )
    newer = create_job(partner, apply_deadline=now.date() + timedelta(days=30))

    def order(sort: str) -> list[int]:
        return ids(client.get("/api/v1/jobs", query_string={"sort": sort}))

    assert order("newest") == [newer.id, older.id]
    assert order("deadline") == [older.id, newer.id]
    assert client.get("/api/v1/jobs?sort=sideways").status_code == 422


def test_list_is_paginated(client, create_partner, create_job):
    partner = create_partner()
    now = utcnow()
    jobs = [create_job(partner, published_at=now - timedelta(minutes=index)) for index in range(5)]

    response = client.get("/api/v1/jobs?page=2&page_size=2")

    assert response.status_code == 200
    assert ids(response) == [jobs[2].id, jobs[3].id]
    pagination = json.loads(response.headers["X-Pagination"])
    assert pagination["total"] == 5
    assert pagination["total_pages"] == 3
    assert pagination["page"] == 2
    assert client.get("/api/v1/jobs?page_size=101").status_code == 422
    assert client.get("/api/v1/jobs?page_size=100").status_code == 200


def test_get_one_published_job_falls_back_to_the_other_language(client, create_partner, create_job):
    job = create_job(
        create_partner(),
        title_fr="Seulement en français",
        title_en=None,
        description_fr="Texte **français**.",
        description_en=None,
    )

    response = client.get(f"/api/v1/jobs/{job.id}", headers={"Accept-Language": "en"})

    body = response.get_json()
    assert response.status_code == 200
    assert set(body) == PUBLIC_FIELDS
    assert body["title"] == "Seulement en français"
    assert body["description"] == "Texte **français**."
    assert body["title_en"] is None


def test_get_one_job_in_the_reader_language(client, create_partner, create_job):
    job = create_job(create_partner(), title_fr="Comptable", title_en="Accountant")

    english = client.get(f"/api/v1/jobs/{job.id}", headers={"Accept-Language": "en"})
    french = client.get(f"/api/v1/jobs/{job.id}", headers={"Accept-Language": "fr"})

    assert english.get_json()["title"] == "Accountant"
    assert french.get_json()["title"] == "Comptable"


@pytest.mark.parametrize("status", ["closed", "expired", "archived"])
def test_ended_job_answers_gone(client, create_partner, create_job, status):
    job = create_job(create_partner(), status=status)

    response = client.get(f"/api/v1/jobs/{job.id}")

    assert response.status_code == 410
    body = response.get_json()
    assert body["code"] == 410
    assert body["status"] == "Gone"
    assert body["message"]


@pytest.mark.parametrize(
    "past",
    [
        {"listed_until": utcnow() - timedelta(seconds=1)},
        {"apply_deadline": utcnow().date() - timedelta(days=1)},
    ],
)
def test_published_job_past_its_dates_answers_gone(client, create_partner, create_job, past):
    job = create_job(create_partner(), **past)

    assert client.get(f"/api/v1/jobs/{job.id}").status_code == 410
    assert job.id not in ids(client.get("/api/v1/jobs"))


@pytest.mark.parametrize("status", ["draft", "submitted", "changes_requested", "rejected"])
def test_hidden_jobs_are_not_found(client, create_partner, create_job, status):
    job = create_job(create_partner(), status=status)

    response = client.get(f"/api/v1/jobs/{job.id}")

    assert response.status_code == 404
    assert response.get_json()["code"] == 404
    assert client.get("/api/v1/jobs/999999999").status_code == 404


def test_openapi_documents_the_public_schema(client):
    spec = client.get("/api/v1/openapi.json").get_json()

    schema = spec["components"]["schemas"]["PublicJob"]
    assert set(schema["properties"]) == PUBLIC_FIELDS
    assert "/api/v1/jobs" in spec["paths"]
    assert "/api/v1/jobs/{job_id}" in spec["paths"]


def test_list_runs_a_fixed_number_of_queries(client, create_partner, create_job, count_queries):
    partners = [create_partner() for _ in range(3)]

    def listing() -> tuple[int, int]:
        """(jobs returned, SQL statements run) for one call of the list."""
        with count_queries() as statements:
            response = client.get("/api/v1/jobs?country=FR")
        assert response.status_code == 200
        return len(response.get_json()), len(statements)

    create_job(partners[0], languages=("fr",))
    jobs_one, queries_one = listing()
    for index in range(19):
        create_job(partners[index % 3], languages=("fr", "en", "de")[: index % 3 + 1])
    jobs_twenty, queries_twenty = listing()

    assert (jobs_one, jobs_twenty) == (1, 20)
    assert queries_one == queries_twenty

"""The public job pages: listing (search, filters, sort, pages, teasers) and the job page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import url_for

from marketplace.database import utcnow

EN = {"Accept-Language": "en"}
APPLY = "jobs.applications.apply"


def job_ids(html: str) -> list[int]:
    return [int(value) for value in re.findall(r'data-job-id="(\d+)"', html)]


@pytest.fixture
def verified(create_user):
    return create_user(alumni=True, status="verified", locale="en")


def test_listing_shows_open_jobs_as_teasers_to_visitors(client, create_partner, create_job):
    partner = create_partner(name="Chantiers Réunis")
    job = create_job(
        partner, title_en="Site manager", contract="fixed_term", city="Nantes", remote="hybrid"
    )
    create_job(partner, status="draft", title_en="A draft job")
    create_job(partner, status="closed", title_en="A closed job")

    response = client.get("/jobs/", headers=EN)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert job_ids(html) == [job.id]
    assert "Site manager" in html
    assert "Chantiers Réunis" in html
    assert "Fixed-term contract" in html
    assert "Nantes" in html
    assert "Hybrid" in html
    assert "A draft job" not in html
    assert "A closed job" not in html
    assert "job-cta" not in html
    assert 'id="jobs-join"' in html


@pytest.mark.parametrize("status", ["pending", "verified"])
def test_only_verified_alumni_get_a_call_to_action(
    client, login, create_user, create_partner, create_job, status
):
    create_job(create_partner())
    login(client, create_user(alumni=True, status=status))

    html = client.get("/jobs/").get_data(as_text=True)

    assert len(job_ids(html)) == 1
    assert ("job-cta" in html) is (status == "verified")
    assert 'id="jobs-join"' not in html


def test_listing_search_filters_and_sort_from_the_form(client, create_partner, create_job):
    partner = create_partner()
    now = utcnow()
    welder = create_job(
        partner,
        description_fr="Soudeur qualifié, chantier naval.",
        country="PT",
        city="Porto",
        contract="internship",
        remote="onsite",
        languages=("pt", "en"),
        apply_deadline=now.date() + timedelta(days=3),
        published_at=now - timedelta(days=5),
    )
    baker = create_job(
        partner,
        description_fr="Boulanger pâtissier.",
        country="FR",
        city="Lyon",
        contract="permanent",
        remote="remote",
        languages=("fr",),
    )

    def listed(query: str) -> list[int]:
        response = client.get(f"/jobs/?{query}")
        assert response.status_code == 200
        return job_ids(response.get_data(as_text=True))

    assert listed("q=soudeur") == [welder.id]
    assert listed("q=patissier") == [baker.id]
    assert listed("q=p%C3%A2tissier") == [baker.id]
    assert listed("contract=internship") == [welder.id]
    assert listed("country=pt") == [welder.id]
    assert listed("city=LYON") == [baker.id]
    assert listed("remote=remote") == [baker.id]
    assert listed("language=en") == [welder.id]
    assert listed("sort=newest") == [baker.id, welder.id]
    assert listed("sort=deadline") == [welder.id, baker.id]
    for attack in ['"', "NEAR(", "a OR", "-", "*"]:
        assert client.get("/jobs/", query_string={"q": attack}).status_code == 200
    assert client.get("/jobs/?sort=sideways&remote=maybe&contract=x&page=x").status_code == 200


def test_the_form_keeps_the_chosen_filters(client, create_partner, create_job):
    create_job(create_partner(), contract="internship", remote="hybrid", languages=("en",))

    html = client.get(
        "/jobs/?contract=internship&remote=hybrid&language=en&sort=deadline", headers=EN
    ).get_data(as_text=True)

    assert re.search(r'<option value="internship"\s+selected>', html)
    assert re.search(r'<option value="hybrid"\s+selected>', html)
    assert re.search(r'<option value="en"\s+selected>', html)
    assert re.search(r'<option value="deadline"\s+selected>', html)


def test_empty_states(client, create_partner, create_job):
    html = client.get("/jobs/").get_data(as_text=True)
    assert 'id="jobs-empty"' in html

    create_job(create_partner())
    html = client.get("/jobs/?q=zeppelin").get_data(as_text=True)
    assert 'id="jobs-empty"' in html
    assert job_ids(html) == []


def test_pages_of_twenty_keep_the_filters(client, create_partner, create_job):
    partner = create_partner()
    now = utcnow()
    jobs = [
        create_job(partner, contract="internship", published_at=now - timedelta(minutes=index))
        for index in range(23)
    ]
    create_job(partner, contract="permanent")

    first = client.get("/jobs/?contract=internship", headers=EN).get_data(as_text=True)
    second = client.get("/jobs/?contract=internship&page=2", headers=EN).get_data(as_text=True)

    assert job_ids(first) == [job.id for job in jobs[:20]]
    assert job_ids(second) == [job.id for job in jobs[20:]]
    next_link = re.search(r'href="([^"]+)" rel="next"', first).group(1)
    assert "contract=internship" in next_link
    assert "page=2" in next_link
    previous_link = re.search(r'href="([^"]+)" rel="prev"', second).group(1)
    assert "contract=internship" in previous_link
    # A page past the end shows the last one.
    beyond = client.get("/jobs/?contract=internship&page=9").get_data(as_text=True)
    assert job_ids(beyond) == job_ids(second)


def _listing_queries(app, client, count_queries) -> int:
    with count_queries() as statements:
        response = client.get("/jobs/?country=FR&sort=deadline")
    assert response.status_code == 200
    return len(statements)


def test_listing_query_count_does_not_grow_with_rows(
    app, client, login, verified, create_partner, create_job, count_queries
):
    login(client, verified)
    partners = [create_partner() for _ in range(3)]

    def add(count: int) -> int:
        for index in range(count):
            create_job(partners[index % 3], languages=("fr", "en", "de")[: index % 3 + 1])
        return _listing_queries(app, client, count_queries)

    one = add(1)
    twenty = add(19)

    assert one == twenty
    assert 3 <= one <= 10, one


def test_search_results_are_cached_until_a_job_is_written(
    app, client, login, verified, create_partner, create_job, count_queries
):
    login(client, verified)
    partner = create_partner()
    create_job(partner, title_en="Data analyst")
    first = _listing_queries(app, client, count_queries)
    again = _listing_queries(app, client, count_queries)
    # The results come from the cache: only the reader is loaded (as on any signed-in page).
    assert again < first
    assert again <= 4, again
    visitor = app.test_client().get("/jobs/?country=FR&sort=deadline", headers=EN)
    assert "Data analyst" in visitor.text
    with count_queries() as statements:
        app.test_client().get("/jobs/?country=FR&sort=deadline", headers=EN)
    assert statements == []  # a visitor's results and page need no query at all
    create_job(partner, title_en="Product designer")  # a committed write moves the version
    assert "Product designer" in client.get("/jobs/?country=FR&sort=deadline", headers=EN).text
    # A verified alumnus and a visitor are two kinds of readers: their cards differ.
    page = client.get("/jobs/?country=FR&sort=deadline", headers=EN).text
    assert "job-cta" in page
    assert "job-cta" not in app.test_client().get("/jobs/?country=FR&sort=deadline").text


# ---------------------------------------------------------------- the job page


def test_job_page_for_a_visitor_invites_to_sign_in(client, create_partner, create_job):
    job = create_job(
        create_partner(name="Banque Étoile"),
        title_en="Risk analyst",
        description_en="You will **model** credit risk.<script>alert(1)</script>",
        contract="apprenticeship",
        country="BE",
        city="Bruxelles",
        remote="remote",
        languages=("fr", "nl"),
        salary_min=38000,
        salary_max=45000,
        currency="EUR",
        apply_deadline=utcnow().date() + timedelta(days=10),
    )

    response = client.get(f"/jobs/{job.id}", headers=EN)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Risk analyst" in html
    assert "Banque Étoile" in html
    assert "<strong>model</strong>" in html
    assert "<script>alert(1)" not in html
    assert "Apprenticeship" in html
    assert "Bruxelles, Belgium" in html
    assert re.search(r'id="job-salary">\s*€38,000.00 to €45,000.00\s*<', html)
    assert 'data-language="fr">French<' in html
    assert 'data-language="nl">Dutch<' in html
    assert 'id="job-deadline"' in html
    assert 'id="job-signin"' in html
    assert 'id="job-apply"' not in html
    assert 'id="job-ended"' not in html


def test_job_page_for_a_pending_alumnus_asks_for_verification(
    client, login, create_user, create_partner, create_job
):
    job = create_job(create_partner())
    login(client, create_user(alumni=True, status="pending"))

    html = client.get(f"/jobs/{job.id}").get_data(as_text=True)

    assert 'id="job-verify"' in html
    assert 'id="job-apply"' not in html


def test_job_page_for_a_verified_alumnus_links_to_the_application(
    app, client, login, verified, create_partner, create_job
):
    job = create_job(create_partner())
    login(client, verified)

    html = client.get(f"/jobs/{job.id}").get_data(as_text=True)

    assert 'id="job-signin"' not in html
    assert 'id="job-verify"' not in html
    if APPLY in app.view_functions:
        with app.test_request_context():
            target = url_for(APPLY, job_id=job.id)
        assert 'id="job-apply"' in html
        assert f'href="{target}"' in html
    else:
        assert 'id="job-apply"' not in html
        assert 'id="job-apply-soon"' in html


def test_job_page_falls_back_to_the_other_language(client, create_partner, create_job):
    job = create_job(
        create_partner(),
        title_fr="Poste seulement en français",
        title_en=None,
        description_fr="Description en *français*.",
        description_en=None,
    )

    html = client.get(f"/jobs/{job.id}", headers=EN).get_data(as_text=True)

    assert "Poste seulement en français" in html
    assert "Description en <em>français</em>." in html


def test_job_page_uses_the_reader_language(client, create_partner, create_job):
    job = create_job(create_partner(), title_fr="Chef de projet", title_en="Project manager")

    assert "Project manager" in client.get(f"/jobs/{job.id}", headers=EN).get_data(as_text=True)
    french = client.get(f"/jobs/{job.id}", headers={"Accept-Language": "fr"})
    assert "Chef de projet" in french.get_data(as_text=True)
    assert "Project manager" not in french.get_data(as_text=True)


@pytest.mark.parametrize("status", ["closed", "expired", "archived"])
def test_ended_job_keeps_its_page(client, login, verified, create_partner, create_job, status):
    job = create_job(create_partner(), status=status, title_en="Old job")
    login(client, verified)

    response = client.get(f"/jobs/{job.id}", headers=EN)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="job-ended"' in html
    assert "This job offer has ended" in html
    assert "Old job" in html
    assert 'id="job-apply"' not in html


@pytest.mark.parametrize(
    "past",
    [
        {"listed_until": utcnow() - timedelta(minutes=1)},
        {"apply_deadline": utcnow().date() - timedelta(days=1)},
    ],
)
def test_published_job_past_its_dates_says_it_has_ended(
    client, login, verified, create_partner, create_job, past
):
    job = create_job(create_partner(), **past)
    login(client, verified)

    response = client.get(f"/jobs/{job.id}")

    assert response.status_code == 200
    assert 'id="job-ended"' in response.get_data(as_text=True)
    assert 'id="job-apply"' not in response.get_data(as_text=True)


@pytest.mark.parametrize("status", ["draft", "submitted", "changes_requested", "rejected"])
def test_hidden_jobs_are_not_found(client, login, create_user, create_partner, create_job, status):
    job = create_job(create_partner(), status=status)
    login(client, create_user(roles=("moderator",)))

    assert client.get(f"/jobs/{job.id}").status_code == 404
    assert client.get("/jobs/999999999").status_code == 404


def _job_page_queries(client, count_queries, job_id: int) -> int:
    with count_queries() as statements:
        response = client.get(f"/jobs/{job_id}")
    assert response.status_code == 200
    return len(statements)


def test_job_page_runs_a_fixed_number_of_queries(
    client, login, verified, create_partner, create_job, count_queries
):
    login(client, verified)
    small = create_job(create_partner(), languages=("fr",))
    large = create_job(create_partner(), languages=("fr", "en", "de", "es", "it", "pt"))

    assert _job_page_queries(client, count_queries, small.id) == _job_page_queries(
        client, count_queries, large.id
    )
    assert 2 <= _job_page_queries(client, count_queries, large.id) <= 8

"""The partner portal's job pages: list, form, actions, and another partner's jobs → 404."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from jobs.models import Job, JobStatus
from marketplace.extensions import db

EN = {"Accept-Language": "en"}


@pytest.fixture
def partner(create_partner):
    return create_partner(name="Acme")


def test_create_edit_submit_through_the_pages(app, client, login, partner):
    login(client, partner.owner)
    page = client.get("/jobs/manage/new", headers=EN)
    assert page.status_code == 200
    assert b'id="job-form"' in page.data
    answer = client.post(
        "/jobs/manage/new",
        data={
            "title_en": "Data analyst",
            "description_en": "Numbers.",
            "contract": "fixed_term",
            "country": "DE",
            "city": "Berlin",
            "remote": "hybrid",
            "languages": ["en", "de"],
            "salary_min": "40000",
            "salary_max": "50000",
            "currency": "EUR",
            "apply_deadline": "2099-01-31",
        },
    )
    assert answer.status_code == 302
    with app.app_context():
        job = db.session.scalar(select(Job).where(Job.partner_id == partner.id))
        job_id = job.id
        assert job.status == JobStatus.DRAFT
        assert job.languages == ["de", "en"]
    assert client.get(f"/jobs/manage/{job_id}/edit").status_code == 200
    assert client.post(f"/jobs/manage/{job_id}/submit").status_code == 302
    with app.app_context():
        assert db.session.get(Job, job_id).status == JobStatus.SUBMITTED
    detail = client.get(f"/jobs/manage/{job_id}", headers=EN)
    assert b"job-history" in detail.data
    assert b"Waiting for review" in detail.data


@pytest.mark.parametrize(("answer", "stored"), [("yes", True), ("no", False), ("unknown", None)])
def test_close_asks_whether_filled_through_the_network(
    app, client, login, partner, create_job, answer, stored
):
    job = create_job(partner)
    login(client, partner.owner)
    assert b'name="filled"' in client.get(f"/jobs/manage/{job.id}").data
    assert client.post(f"/jobs/manage/{job.id}/close", data={"filled": answer}).status_code == 302
    with app.app_context():
        row = db.session.get(Job, job.id)
        assert row.status == JobStatus.CLOSED
        assert row.filled_through_network is stored


def test_repost_and_archive_buttons(app, client, login, partner, create_job):
    job = create_job(partner, status="expired")
    login(client, partner.owner)
    assert b'id="repost-job"' in client.get(f"/jobs/manage/{job.id}").data
    client.post(f"/jobs/manage/{job.id}/repost")
    with app.app_context():
        assert db.session.get(Job, job.id).status == JobStatus.PUBLISHED
    client.post(f"/jobs/manage/{job.id}/archive")
    with app.app_context():
        assert db.session.get(Job, job.id).status == JobStatus.ARCHIVED


def test_list_counts_applications_in_constant_queries(
    app, client, login, partner, create_job, create_application, create_user, count_queries
):
    job = create_job(partner)
    for _index in range(3):
        create_application(job, create_user(status="verified"), cv=False)
    login(client, partner.owner)
    page = client.get("/jobs/manage/", headers=EN)
    assert page.status_code == 200
    assert b'<td class="application-count">' in page.data
    with count_queries() as one:
        client.get("/jobs/manage/")
    for index in range(19):
        create_job(partner, title_en=f"Job {index}")
    with count_queries() as twenty:
        page = client.get("/jobs/manage/")
    assert page.data.count(b'id="job-') == 20
    assert len(twenty) == len(one)


def test_empty_list(client, login, partner):
    login(client, partner.owner)
    assert b'id="no-jobs"' in client.get("/jobs/manage/").data


def test_another_partners_job_is_404_everywhere(client, login, create_partner, partner, create_job):
    job = create_job(partner)
    other = create_partner(name="Other")
    login(client, other.owner)
    for url in (f"/jobs/manage/{job.id}", f"/jobs/manage/{job.id}/edit"):
        assert client.get(url).status_code == 404
    for action in ("submit", "repost", "archive", "close", "edit"):
        assert client.post(f"/jobs/manage/{job.id}/{action}").status_code == 404


def test_not_a_partner_is_refused(client, login, create_user):
    login(client, create_user(status="verified"))
    assert client.get("/jobs/manage/").status_code == 403

"""The partner's applicant pipeline: list, filters, statuses, notes, CV, CSV export, budget."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from sqlalchemy import insert, select

from jobs.models import (
    Application,
    ApplicationNote,
    ApplicationStatus,
    ApplicationStatusChange,
)
from marketplace.accounts.models import User
from marketplace.extensions import db


@pytest.fixture
def acme(create_partner, add_partner_member, create_job):
    partner = create_partner(name="Acme")
    manager = add_partner_member(partner)
    job = create_job(partner)
    return partner, manager, job


@pytest.fixture
def candidates(create_user):
    return [
        create_user(full_name="Ada Lovelace", alumni=True, status="verified", locale="en"),
        create_user(full_name="Blaise Pascal", alumni=True, status="verified", locale="fr"),
    ]


def status_of(app, application_id: int) -> ApplicationStatus:
    with app.app_context():
        return db.session.get(Application, application_id).status


def test_pipeline_lists_the_jobs_applications(
    client, login, acme, candidates, create_application, create_job
):
    partner, manager, job = acme
    ada, blaise = candidates
    first = create_application(job, ada)
    second = create_application(job, blaise, status="interview")
    elsewhere = create_application(create_job(partner, title_en="Other"), ada)
    login(client, manager)
    page = client.get(f"/jobs/manage/pipeline/{job.id}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'id="application-{first.id}"' in html
    assert f'id="application-{second.id}"' in html
    assert f'id="application-{elsewhere.id}"' not in html
    assert 'id="controller-notice"' in html
    assert "data controller" in html
    assert 'name="application_ids"' in html


def test_filters_by_status_and_name(client, login, acme, candidates, create_application):
    _partner, manager, job = acme
    ada, blaise = candidates
    first = create_application(job, ada)
    second = create_application(job, blaise, status="interview")
    login(client, manager)
    by_status = client.get(f"/jobs/manage/pipeline/{job.id}?status=interview").get_data(
        as_text=True
    )
    assert f'id="application-{second.id}"' in by_status
    assert f'id="application-{first.id}"' not in by_status
    by_name = client.get(f"/jobs/manage/pipeline/{job.id}?q=lovel").get_data(as_text=True)
    assert f'id="application-{first.id}"' in by_name
    assert f'id="application-{second.id}"' not in by_name
    nothing = client.get(f"/jobs/manage/pipeline/{job.id}?q=nobody%25").get_data(as_text=True)
    assert 'id="no-applications"' in nothing


def test_empty_pipeline(client, login, acme):
    _partner, manager, job = acme
    login(client, manager)
    page = client.get(f"/jobs/manage/pipeline/{job.id}")
    assert b'id="no-applications"' in page.data


def test_bulk_status_change_mails_each_candidate_in_their_locale(
    app, client, login, acme, candidates, create_application, create_user, outbox
):
    _partner, manager, job = acme
    ada, blaise = candidates
    first = create_application(job, ada)
    second = create_application(job, blaise, status="in_review")
    gone = create_application(job, create_user(alumni=True, status="verified"), status="withdrawn")
    login(client, manager)
    response = client.post(
        f"/jobs/manage/pipeline/{job.id}/status",
        data={"status": "interview", "application_ids": [first.id, second.id, gone.id]},
    )
    assert response.status_code == 302
    assert status_of(app, first.id) == ApplicationStatus.INTERVIEW
    assert status_of(app, second.id) == ApplicationStatus.INTERVIEW
    assert status_of(app, gone.id) == ApplicationStatus.WITHDRAWN
    with app.app_context():
        changes = db.session.scalars(
            select(ApplicationStatusChange).where(
                ApplicationStatusChange.application_id.in_([first.id, second.id, gone.id])
            )
        ).all()
    assert sorted((c.application_id, c.from_status, c.to_status) for c in changes) == [
        (first.id, "submitted", "interview"),
        (second.id, "in_review", "interview"),
    ]
    assert all(c.actor_id == manager.id for c in changes)
    [english] = outbox(to=ada.email)
    assert english.subject == "News about your application"
    assert "Interview" in english.body_text
    assert "Software engineer" in english.body_text
    [french] = outbox(to=blaise.email)
    # Rendered in the candidate's own language: the French title of the job.
    assert "Ingénieur logiciel" in french.body_text


def test_single_status_change_and_rejection_date(
    app, client, login, acme, candidates, create_application, outbox
):
    _partner, manager, job = acme
    application = create_application(job, candidates[0])
    login(client, manager)
    url = f"/jobs/manage/pipeline/applications/{application.id}/status"
    assert client.post(url, data={"status": "rejected"}).status_code == 302
    with app.app_context():
        row = db.session.get(Application, application.id)
        assert row.status == ApplicationStatus.REJECTED
        assert row.rejected_at is not None
    assert len(outbox(to=candidates[0].email)) == 1
    # An unknown status changes nothing.
    client.post(url, data={"status": "withdrawn"})
    client.post(url, data={"status": "bogus"})
    assert status_of(app, application.id) == ApplicationStatus.REJECTED
    assert len(outbox(to=candidates[0].email)) == 1


def test_withdrawn_application_cannot_be_moved(
    app, client, login, acme, candidates, create_application
):
    _partner, manager, job = acme
    application = create_application(job, candidates[0], status="withdrawn")
    login(client, manager)
    client.post(
        f"/jobs/manage/pipeline/applications/{application.id}/status", data={"status": "offer"}
    )
    assert status_of(app, application.id) == ApplicationStatus.WITHDRAWN


def test_private_notes_never_reach_the_candidate(
    app, client, login, acme, candidates, create_application, api_headers
):
    _partner, manager, job = acme
    ada = candidates[0]
    application = create_application(job, ada)
    login(client, manager)
    response = client.post(
        f"/jobs/manage/pipeline/applications/{application.id}/notes",
        data={"body": "Strong profile; call back Tuesday"},
    )
    assert response.status_code == 302
    page = client.get(f"/jobs/manage/pipeline/applications/{application.id}")
    assert b"Strong profile; call back Tuesday" in page.data
    with app.app_context():
        note = db.session.scalar(select(ApplicationNote))
        assert note.author_id == manager.id
        assert note.application_id == application.id
    client.get("/accounts/logout")
    candidate_client = app.test_client()
    login(candidate_client, ada)
    mine = candidate_client.get("/jobs/applications/")
    assert b"Strong profile" not in mine.data
    api = client.get("/api/v1/me/applications", headers=api_headers(ada))
    assert "Strong profile" not in api.get_data(as_text=True)


def test_empty_note_is_refused(app, client, login, acme, candidates, create_application):
    _partner, manager, job = acme
    application = create_application(job, candidates[0])
    login(client, manager)
    client.post(f"/jobs/manage/pipeline/applications/{application.id}/notes", data={"body": " "})
    with app.app_context():
        assert db.session.scalar(select(ApplicationNote)) is None


def test_another_partners_ids_answer_404(
    app, client, login, acme, candidates, create_application, create_partner, minimal_pdf
):
    _partner, _manager, job = acme
    application = create_application(job, candidates[0])
    rival = create_partner(name="Rival")
    login(client, rival.owner)
    for url in (
        f"/jobs/manage/pipeline/{job.id}",
        f"/jobs/manage/pipeline/{job.id}/applications.csv",
        f"/jobs/manage/pipeline/applications/{application.id}",
        f"/jobs/manage/pipeline/applications/{application.id}/cv",
    ):
        assert client.get(url).status_code == 404, url
    posts = (
        (f"/jobs/manage/pipeline/{job.id}/status", {"status": "hired", "application_ids": "1"}),
        (f"/jobs/manage/pipeline/applications/{application.id}/status", {"status": "hired"}),
        (f"/jobs/manage/pipeline/applications/{application.id}/notes", {"body": "x"}),
    )
    for url, data in posts:
        assert client.post(url, data=data).status_code == 404, url
    assert status_of(app, application.id) == ApplicationStatus.SUBMITTED


def test_bulk_change_with_an_application_of_another_job_changes_nothing(
    app, client, login, acme, candidates, create_application, create_partner, create_job
):
    _partner, manager, job = acme
    mine = create_application(job, candidates[0])
    rival_job = create_job(create_partner(name="Rival"))
    theirs = create_application(rival_job, candidates[1])
    login(client, manager)
    response = client.post(
        f"/jobs/manage/pipeline/{job.id}/status",
        data={"status": "hired", "application_ids": [mine.id, theirs.id]},
    )
    assert response.status_code == 404
    assert status_of(app, mine.id) == ApplicationStatus.SUBMITTED
    assert status_of(app, theirs.id) == ApplicationStatus.SUBMITTED


def test_non_members_and_disabled_members_are_refused(
    client, login, acme, create_user, add_partner_member
):
    partner, _manager, job = acme
    login(client, create_user(alumni=True, status="verified"))
    assert client.get(f"/jobs/manage/pipeline/{job.id}").status_code == 403
    disabled = add_partner_member(partner, disabled=True)
    login(client, disabled)
    assert client.get(f"/jobs/manage/pipeline/{job.id}").status_code == 403


def test_csv_export_is_streamed_injection_safe_and_only_this_jobs(
    app, client, login, acme, create_user, create_application, create_partner, create_job
):
    _partner, manager, job = acme
    evil = create_user(full_name='=HYPERLINK("http://x")', alumni=True, status="verified")
    create_application(job, evil, cover_letter="+SUM(A1:A2)")
    rival_job = create_job(create_partner(name="Rival"))
    create_application(rival_job, create_user(full_name="Rival Candidate"))
    login(client, manager)
    response = client.get(f"/jobs/manage/pipeline/{job.id}/applications.csv")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:4] == ["id", "name", "email", "status"]
    assert len(rows) == 2
    assert rows[1][1] == '\'=HYPERLINK("http://x")'
    assert rows[1][6] == "'+SUM(A1:A2)"
    assert "Rival Candidate" not in response.get_data(as_text=True)


def test_csv_export_has_no_row_cap(app, client, login, acme):
    _partner, manager, job = acme
    count = 1203  # more than two batches of the streamed export
    with app.app_context():
        emails = [f"bulk-{uuid.uuid4().hex[:10]}@example.org" for _ in range(count)]
        db.session.execute(
            insert(User),
            [
                {"email": e, "full_name": "Bulk", "locale": "fr", "password_hash": "x"}
                for e in emails
            ],
        )
        ids = db.session.scalars(select(User.id).where(User.email.in_(emails))).all()
        db.session.execute(
            insert(Application), [{"job_id": job.id, "user_id": user_id} for user_id in ids]
        )
        db.session.commit()
    login(client, manager)
    response = client.get(f"/jobs/manage/pipeline/{job.id}/applications.csv")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == count + 1
    assert len({row[0] for row in rows[1:]}) == count


def test_pipeline_query_count_is_constant(
    client, login, acme, create_user, create_application, count_queries
):
    _partner, manager, job = acme
    login(client, manager)
    create_application(job, create_user(alumni=True, status="verified"))
    url = f"/jobs/manage/pipeline/{job.id}"
    client.get(url)  # warm-up: caches, first-request work
    with count_queries() as one:
        assert client.get(url).status_code == 200
    for _ in range(29):
        create_application(job, create_user(alumni=True, status="verified"), cv=False)
    with count_queries() as thirty:
        page = client.get(url)
    assert page.get_data(as_text=True).count('name="application_ids"') == 30
    assert len(thirty) == len(one)
    assert len(one) <= 8


def test_application_page_shows_letter_history_and_cv_link(
    client, login, acme, candidates, create_application
):
    _partner, manager, job = acme
    application = create_application(job, candidates[0], cover_letter="Dear team")
    login(client, manager)
    page = client.get(f"/jobs/manage/pipeline/applications/{application.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Dear team" in html
    assert f"/jobs/manage/pipeline/applications/{application.id}/cv" in html
    assert 'id="current-status" data-status="submitted"' in html

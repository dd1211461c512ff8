"""Retention of applications and CVs (DESIGN "Privacy"), run with a moved clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from jobs.models import Application, ApplicationNote, ApplicationStatusChange
from jobs.retention import purge_applications, purge_job_cvs
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.tasks import run_due

DAY = timedelta(days=1)


@pytest.fixture
def job_and_people(create_partner, create_job, create_user):
    partner = create_partner()
    job = create_job(partner)
    people = [create_user(alumni=True, status="verified") for _ in range(4)]
    return partner, job, people


def cv_file(app, application: Application) -> Path:
    return Path(app.config["UPLOAD_FOLDER"]) / "cvs" / application.cv_filename


def exists(app, application_id: int) -> bool:
    with app.app_context():
        return db.session.get(Application, application_id) is not None


def test_refused_applications_go_after_3_months_or_2_years_with_consent(
    app, job_and_people, create_application
):
    _partner, job, people = job_and_people
    refused_at = utcnow()
    plain = create_application(job, people[0], status="rejected", rejected_at=refused_at)
    consented = create_application(
        job, people[1], status="rejected", rejected_at=refused_at, retention_consent=True
    )
    active = create_application(job, people[2], status="interview")
    with app.app_context():
        db.session.add(ApplicationNote(application_id=plain.id, body="private"))
        db.session.add(ApplicationStatusChange(application_id=plain.id, to_status="rejected"))
        db.session.commit()
    plain_file, consented_file = cv_file(app, plain), cv_file(app, consented)

    with app.app_context():
        assert "0 refused" in purge_applications(refused_at + 80 * DAY)
    assert exists(app, plain.id)
    assert plain_file.exists()

    with app.app_context():
        assert "1 refused" in purge_applications(refused_at + 92 * DAY)
    assert not exists(app, plain.id)
    assert not plain_file.exists()
    with app.app_context():
        assert db.session.scalar(select(ApplicationNote)) is None
        assert (
            db.session.scalar(
                select(ApplicationStatusChange).where(
                    ApplicationStatusChange.application_id == plain.id
                )
            )
            is None
        )
    assert exists(app, consented.id)
    assert consented_file.exists()

    with app.app_context():
        purge_applications(refused_at + 700 * DAY)
    assert exists(app, consented.id)
    with app.app_context():
        assert "1 refused" in purge_applications(refused_at + 731 * DAY)
    assert not exists(app, consented.id)
    assert not consented_file.exists()
    # An application still in the pipeline is never purged by this rule.
    assert exists(app, active.id)


def test_withdrawn_applications_go_after_3_months(app, job_and_people, create_application):
    _partner, job, people = job_and_people
    withdrawn_at = utcnow()
    application = create_application(
        job, people[0], status="withdrawn", withdrawn_at=withdrawn_at, retention_consent=True
    )
    with app.app_context():
        purge_applications(withdrawn_at + 80 * DAY)
    assert exists(app, application.id)
    with app.app_context():
        purge_applications(withdrawn_at + 92 * DAY)
    assert not exists(app, application.id)


def test_cvs_of_closed_jobs_go_6_months_after_closing(
    app, job_and_people, create_job, create_application
):
    partner, open_job, people = job_and_people
    closed_at = utcnow()
    closed = create_job(partner, status="closed", closed_at=closed_at)
    expired = create_job(
        partner, status="expired", listed_until=closed_at, published_at=closed_at - 60 * DAY
    )
    on_closed = create_application(closed, people[0], status="hired")
    on_expired = create_application(expired, people[1])
    on_open = create_application(open_job, people[2])
    files = {a.id: cv_file(app, a) for a in (on_closed, on_expired, on_open)}

    with app.app_context():
        assert purge_job_cvs(closed_at + 170 * DAY).startswith("0 CV")
    assert all(path.exists() for path in files.values())

    with app.app_context():
        assert purge_job_cvs(closed_at + 183 * DAY).startswith("2 CV")
    assert not files[on_closed.id].exists()
    assert not files[on_expired.id].exists()
    assert files[on_open.id].exists()
    with app.app_context():
        for application_id in (on_closed.id, on_expired.id):
            row = db.session.get(Application, application_id)
            assert row is not None  # the row stays for the partner's records
            assert row.cv_deleted_at is not None
            assert row.cv_filename is None
        assert db.session.get(Application, on_open.id).cv_deleted_at is None
    # Idempotent: a second run removes nothing more.
    with app.app_context():
        assert purge_job_cvs(closed_at + 200 * DAY).startswith("0 CV")


def test_removed_cv_is_no_longer_served(
    app, client, login, job_and_people, create_job, create_application
):
    partner, _job, people = job_and_people
    closed_at = utcnow()
    closed = create_job(partner, status="closed", closed_at=closed_at)
    application = create_application(closed, people[0])
    with app.app_context():
        purge_job_cvs(closed_at + 183 * DAY)
    login(client, partner.owner)
    assert client.get(f"/jobs/manage/pipeline/applications/{application.id}/cv").status_code == 404
    page = client.get(f"/jobs/manage/pipeline/applications/{application.id}")
    assert page.status_code == 200


def test_tasks_run_due_runs_the_purges(app, job_and_people, create_application):
    _partner, job, people = job_and_people
    refused_at = utcnow()
    application = create_application(job, people[0], status="rejected", rejected_at=refused_at)
    path = cv_file(app, application)
    with app.app_context():
        lines = run_due(refused_at + 92 * DAY, echo=lambda line: None)
    assert any(line.startswith("application-retention: 1 ") for line in lines)
    assert any(line.startswith("cv-retention: ") for line in lines)
    assert not exists(app, application.id)
    assert not path.exists()

"""Posting lifecycle services: edits, submission, moderation, close, repost, history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from jobs import services
from jobs.models import Application, Job, JobStatus, JobStatusChange
from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db


def _history(app, job_id):
    with app.app_context():
        return [
            (row.from_status, row.to_status)
            for row in db.session.scalars(
                select(JobStatusChange)
                .where(JobStatusChange.job_id == job_id)
                .order_by(JobStatusChange.id)
            )
        ]


def test_fixtures_build_a_job_and_an_application(
    app, create_partner, create_job, create_application, create_user
):
    partner = create_partner()
    job = create_job(partner, languages=("fr", "en"))
    member = create_user(status="verified")
    application = create_application(job, member)
    with app.app_context():
        row = db.session.get(Job, job.id)
        assert row.status == JobStatus.PUBLISHED
        assert row.languages == ["en", "fr"]
        assert "ingenieur" in row.search_fr
        assert row.listed_until is not None
        assert db.session.get(Application, application.id).cv_size > 0


def test_full_lifecycle_with_changes_requested(app, create_partner, create_user):
    partner = create_partner(name="Société Générale")
    moderator = create_user(roles=("moderator",))
    with app.test_request_context():
        owner = db.session.get(User, partner.owner.id)
        staff = db.session.get(User, moderator.id)
        job = services.create_job(
            db.session.get(type(partner), partner.id),
            actor=owner,
            data={"title_fr": "Chargé d'études", "contract": "internship", "country": "fr"},
        )
        with pytest.raises(services.InvalidJob):
            services.submit_job(job, actor=owner)
        services.update_job(job, actor=owner, data={"description_fr": "Analyse économique."})
        services.submit_job(job, actor=owner)
        services.request_job_changes(job, actor=staff, message="Add the city")
        assert job.status == JobStatus.CHANGES_REQUESTED
        services.update_job(job, actor=owner, data={"city": "Évry"})
        services.submit_job(job, actor=owner)
        before = utcnow()
        services.approve_job(job, actor=staff)
        db.session.commit()
        job_id = job.id
        assert job.status == JobStatus.PUBLISHED
        assert job.country == "FR"
        assert job.listed_until - job.published_at == timedelta(days=60)
        assert job.published_at >= before
        assert "evry" in job.search_fr
        assert "societe generale" in job.search_en
    assert _history(app, job_id) == [
        (None, "draft"),
        ("draft", "submitted"),
        ("submitted", "changes_requested"),
        ("changes_requested", "submitted"),
        ("submitted", "published"),
    ]


def test_editing_a_published_job(app, create_partner, create_job):
    partner = create_partner()
    job = create_job(partner, city="Lyon")
    with app.test_request_context():
        owner = db.session.get(User, partner.owner.id)
        row = db.session.get(Job, job.id)
        assert (
            services.update_job(
                row, actor=owner, data={"city": "Paris", "salary_min": 40000, "currency": "EUR"}
            )
            is False
        )
        assert row.status == JobStatus.PUBLISHED
        assert row.city == "Paris"
        assert services.update_job(row, actor=owner, data={"contract": "fixed_term"}) is True
        db.session.commit()
    with app.app_context():
        row = db.session.get(Job, job.id)
        assert row.status == JobStatus.SUBMITTED
        assert "paris" in row.search_fr


def test_invalid_fields_are_refused(app, create_partner, create_job):
    partner = create_partner()
    job = create_job(partner, status="draft")
    with app.test_request_context():
        owner = db.session.get(User, partner.owner.id)
        row = db.session.get(Job, job.id)
        for data in (
            {"country": "XX"},
            {"languages": ["xx"]},
            {"contract": "slavery"},
            {"salary_min": 50, "salary_max": 10, "currency": "EUR"},
            {"salary_min": 50},
        ):
            with pytest.raises(services.InvalidJob):
                services.update_job(row, actor=owner, data=data)


def test_close_keeps_the_filled_answer_and_repost_relists(app, create_partner, create_job):
    partner = create_partner()
    job = create_job(partner, published_at=utcnow() - timedelta(days=50))
    with app.test_request_context():
        owner = db.session.get(User, partner.owner.id)
        row = db.session.get(Job, job.id)
        services.close_job(row, actor=owner, filled_through_network=True)
        assert row.status == JobStatus.CLOSED
        assert row.closed_at is not None
        assert row.filled_through_network is True
        with pytest.raises(services.JobStateConflict):
            services.close_job(row, actor=owner, filled_through_network=False)
        services.repost_job(row, actor=owner)
        db.session.commit()
        assert row.status == JobStatus.PUBLISHED
        assert row.listed_until > utcnow() + timedelta(days=59)
        assert row.filled_through_network is True
        services.archive_job(row, actor=owner)
        with pytest.raises(services.JobStateConflict):
            services.repost_job(row, actor=owner)
        db.session.commit()
    assert _history(app, job.id)[-3:] == [
        ("published", "closed"),
        ("closed", "published"),
        ("published", "archived"),
    ]


def test_only_submitted_jobs_are_moderated(app, create_partner, create_job, create_user):
    partner = create_partner()
    job = create_job(partner, status="draft")
    moderator = create_user(roles=("moderator",))
    with app.test_request_context():
        staff = db.session.get(User, moderator.id)
        row = db.session.get(Job, job.id)
        for call in (
            lambda: services.approve_job(row, actor=staff),
            lambda: services.reject_job(row, actor=staff, reason="No"),
        ):
            with pytest.raises(services.JobStateConflict):
                call()

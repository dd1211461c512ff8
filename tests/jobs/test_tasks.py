"""Due tasks of the job board: expiry and the reminder 5 days before, with a moved clock."""

from __future__ import annotations

from datetime import date, timedelta

from jobs.models import Job, JobStatus
from jobs.tasks import expire_due_jobs, send_expiry_reminders
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.tasks import run_due


def test_reminder_sent_once_five_days_before(
    app, create_partner, add_partner_member, create_job, outbox
):
    partner = create_partner()
    manager = add_partner_member(partner)
    start = utcnow()
    job = create_job(partner, published_at=start)
    with app.app_context():
        assert send_expiry_reminders(start + timedelta(days=54)) == "0 job expiry reminder(s) sent"
    assert outbox(to=partner.owner.email) == []
    with app.app_context():
        assert send_expiry_reminders(start + timedelta(days=56)) == "1 job expiry reminder(s) sent"
        assert send_expiry_reminders(start + timedelta(days=57)) == "0 job expiry reminder(s) sent"
        assert db.session.get(Job, job.id).expiry_reminder_sent_at is not None
    for person in (partner.owner, manager):
        mails = outbox(to=person.email)
        assert len(mails) == 1
        assert f"/jobs/manage/{job.id}" in mails[0].body_text


def test_expiry_after_sixty_days_and_after_the_deadline(app, create_partner, create_job):
    partner = create_partner()
    start = utcnow()
    listed = create_job(partner, published_at=start)
    deadline = create_job(
        partner, published_at=start, apply_deadline=date.today() + timedelta(days=3)
    )
    draft = create_job(partner, status="draft")
    with app.app_context():
        assert expire_due_jobs(start + timedelta(days=2)) == "0 job(s) expired"
        assert expire_due_jobs(start + timedelta(days=5)) == "1 job(s) expired"
        assert db.session.get(Job, deadline.id).status == JobStatus.EXPIRED
        assert db.session.get(Job, listed.id).status == JobStatus.PUBLISHED
    with app.app_context():
        lines = run_due(start + timedelta(days=60, seconds=1), echo=lambda line: None)
        assert "job-expiry: 1 job(s) expired" in lines
        assert db.session.get(Job, listed.id).status == JobStatus.EXPIRED
        assert db.session.get(Job, draft.id).status == JobStatus.DRAFT

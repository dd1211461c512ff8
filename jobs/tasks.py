"""Periodic work of the job board, run by ``flask tasks run-due``.

``job-expiry`` ends the listing of published postings whose 60 days are over or whose
application deadline has passed; ``job-expiry-reminders`` e-mails the partner's team once,
5 days before the end, with a link to repost in one click. Both are idempotent.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import joinedload

from jobs.models import Job, JobStatus
from jobs.services import REMINDER_DAYS, expire_job
from marketplace.extensions import db
from marketplace.i18n import N_
from marketplace.notifications.services import queue_mail
from marketplace.tasks import site_request_context
from partners.access import active_members

logger = logging.getLogger(__name__)


def expire_due_jobs(now: datetime) -> str:
    """Mark published postings past their listing or deadline as expired; commit."""
    jobs = db.session.scalars(
        select(Job)
        .where(
            Job.status == JobStatus.PUBLISHED,
            or_(Job.listed_until <= now, Job.apply_deadline < now.date()),
        )
        .order_by(Job.id)
    ).all()
    for job in jobs:
        expire_job(job)
    db.session.commit()
    return f"{len(jobs)} job(s) expired"


def _url_context() -> AbstractContextManager[object]:
    """A request context for absolute links when run from the command line."""
    return site_request_context()


def send_expiry_reminders(now: datetime) -> str:
    """E-mail each team once when a posting's listing ends within 5 days; commit."""
    due = db.session.scalars(
        select(Job.id)
        .where(
            Job.status == JobStatus.PUBLISHED,
            Job.expiry_reminder_sent_at.is_(None),
            Job.listed_until > now,
            Job.listed_until <= now + timedelta(days=REMINDER_DAYS),
        )
        .order_by(Job.id)
    ).all()
    sent = 0
    for job_id in due:
        # Claim the reminder: a concurrent run updates no row and sends nothing.
        claimed = db.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.expiry_reminder_sent_at.is_(None))
            .values(expiry_reminder_sent_at=now)
        ).rowcount
        if claimed != 1:
            continue
        job = db.session.scalar(
            select(Job).where(Job.id == job_id).options(joinedload(Job.partner))
        )
        with _url_context():
            for user in active_members(job.partner_id):
                queue_mail(
                    to=user.email,
                    template="jobs/posting_expiry_reminder",
                    subject=N_("Your job posting ends soon"),
                    locale=user.locale,
                    user=user,
                    job=job,
                )
        db.session.commit()
        sent += 1
    db.session.commit()
    return f"{sent} job expiry reminder(s) sent"

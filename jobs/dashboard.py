"""The jobs' part of the partner dashboard: applications of the last 30 days, and what waits
for the team (new applicants to review, postings the moderators sent back, listings ending)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select

from jobs.models import Application, ApplicationStatus, Job, JobStatus
from marketplace.extensions import db
from partners.dashboard import DashboardSource, Figure, ToDo
from partners.models import Partner

# A listing ending within this many days is worth a repost.
ENDING_SOON_DAYS = 5


def figures(partner: Partner, since: datetime) -> list[Figure]:
    """Applications to the partner's jobs since ``since`` (one query)."""
    count = db.session.scalar(
        select(func.count(Application.id))
        .join(Job, Job.id == Application.job_id)
        .where(Job.partner_id == partner.id, Application.submitted_at >= since)
    )
    return [Figure("applications", _("Applications"), int(count or 0))]


def todos(partner: Partner, now: datetime) -> list[ToDo]:
    """The partner's postings and applicants that wait for the team."""
    found: list[ToDo] = []
    unread = db.session.execute(
        select(Job, func.count(Application.id))
        .join(Application, Application.job_id == Job.id)
        .where(Job.partner_id == partner.id, Application.status == ApplicationStatus.SUBMITTED)
        .group_by(Job.id)
        .order_by(func.min(Application.submitted_at))
    ).all()
    for job, count in unread:
        found.append(
            ToDo(
                f"job-{job.id}-applicants",
                _("New applicants for “%(title)s”", title=job.title),
                url_for("jobs.pipeline.job", job_id=job.id),
                ngettext("%(num)d application to review", "%(num)d applications to review", count),
            )
        )
    sent_back = db.session.scalars(
        select(Job).where(
            Job.partner_id == partner.id,
            Job.status.in_((JobStatus.CHANGES_REQUESTED, JobStatus.REJECTED)),
        )
    )
    for job in sent_back:
        found.append(
            ToDo(
                f"job-{job.id}-review",
                _("The moderators asked for changes to “%(title)s”", title=job.title)
                if job.status == JobStatus.CHANGES_REQUESTED
                else _("“%(title)s” was not accepted", title=job.title),
                url_for("jobs.portal.detail", job_id=job.id),
                "",
            )
        )
    ending = db.session.scalars(
        select(Job)
        .where(
            Job.partner_id == partner.id,
            Job.status == JobStatus.PUBLISHED,
            Job.listed_until > now,
            Job.listed_until <= now + timedelta(days=ENDING_SOON_DAYS),
        )
        .order_by(Job.listed_until)
    )
    for job in ending:
        found.append(
            ToDo(
                f"job-{job.id}-ending",
                _("The listing of “%(title)s” ends soon", title=job.title),
                url_for("jobs.portal.detail", job_id=job.id),
                "",
            )
        )
    return found


SOURCE = DashboardSource(figures=figures, todos=todos)

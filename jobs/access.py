"""Loading a job or an application for its reader: one loader per resource.

A partner sees only its own jobs and the applications to them (another partner's is a 404,
never a 403), a member only their own applications, the public only published or ended jobs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask_smorest import abort
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from jobs.models import Application, Job, JobStatus
from jobs.search import ENDED_STATUSES
from marketplace.extensions import db

if TYPE_CHECKING:
    from marketplace.accounts.models import User
    from partners.models import Partner


def get_job_or_404(job_id: int, *, partner: Partner | None = None, published: bool = False) -> Job:
    """The job as its reader may see it: ``partner``'s own, or ``published`` (open or ended)."""
    query = select(Job).where(Job.id == job_id).options(joinedload(Job.partner))
    if partner is not None:
        query = query.where(Job.partner_id == partner.id)
    if published:
        query = query.where(or_(Job.status == JobStatus.PUBLISHED, Job.status.in_(ENDED_STATUSES)))
    job = db.session.scalar(query)
    if job is None:
        abort(404, message="No such job.")
    return job


def get_application_or_404(
    application_id: int, *, partner: Partner | None = None, applicant: User | None = None
) -> Application:
    """An application to one of ``partner``'s jobs, or one of ``applicant``'s own."""
    query = (
        select(Application)
        .where(Application.id == application_id)
        .options(joinedload(Application.job).joinedload(Job.partner))
    )
    if partner is not None:
        query = query.join(Job, Job.id == Application.job_id).where(Job.partner_id == partner.id)
    if applicant is not None:
        query = query.where(Application.user_id == applicant.id)
    application = db.session.scalar(query)
    if application is None:
        abort(404, message="No such application.")
    return application

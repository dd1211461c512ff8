"""Partner jobs API: ``/partner/jobs...`` serves a partner's team.

Bearer token; another partner's job is a 404. The moderators' decisions are in
``jobs/moderation_api.py``.
"""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest.pagination import PaginationParameters
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from jobs import services
from jobs.access import get_job_or_404
from jobs.models import Job
from jobs.schemas import JobInputSchema, PartnerJobSchema
from marketplace.api import Blueprint
from marketplace.extensions import db
from partners.access import current_partner, partner_required

bp = Blueprint("partner_jobs_api", __name__, url_prefix="", description="Partner jobs")

MAX_PAGE_SIZE = 100
PARTNER = partner_required()
PARTNER_ERRORS = (
    (401, "Not signed in (send a bearer token)."),
    (403, "Not a representative of an approved partner."),
)
JOB_ERRORS = (
    (404, "No such job among the partner's."),
    (409, "The job's status does not allow this."),
    (422, "Invalid or incomplete job."),
)


def documented(*answers: tuple[int, str]) -> Any:
    """Bearer security and the error answers of an endpoint."""

    def decorate(view: Any) -> Any:
        for status, description in answers:
            view = bp.alt_response(status, description=description)(view)
        return bp.doc(security=[{"bearer": []}])(view)

    return decorate


# ---------------------------------------------------------------- partner


@bp.get("/partner/jobs")
@PARTNER
@documented(*PARTNER_ERRORS)
@bp.response(200, PartnerJobSchema(many=True))
@bp.paginate(page_size=20, max_page_size=MAX_PAGE_SIZE)
def list_partner_jobs(pagination_parameters: PaginationParameters) -> list[Job]:
    """The caller's partner's jobs, newest first."""
    page = db.paginate(
        select(Job)
        .where(Job.partner_id == current_partner().id)
        .options(joinedload(Job.partner))
        .order_by(Job.created_at.desc(), Job.id.desc()),
        page=pagination_parameters.page,
        per_page=pagination_parameters.page_size,
        error_out=False,
    )
    pagination_parameters.item_count = page.total or 0
    return list(page.items)


@bp.post("/partner/jobs")
@PARTNER
@documented(*PARTNER_ERRORS, (422, "Invalid job."))
@bp.arguments(JobInputSchema)
@bp.response(201, PartnerJobSchema)
def create_partner_job(data: dict[str, Any]) -> Job:
    """Create a draft job (submit it for review with ``/submit``)."""
    job = services.create_job(current_partner(), actor=current_user, data=data)
    db.session.commit()
    return job


@bp.get("/partner/jobs/<int:job_id>")
@PARTNER
@documented(*PARTNER_ERRORS, JOB_ERRORS[0])
@bp.response(200, PartnerJobSchema)
def get_partner_job(job_id: int) -> Job:
    """One of the partner's jobs."""
    return get_job_or_404(job_id, partner=current_partner())


@bp.patch("/partner/jobs/<int:job_id>")
@PARTNER
@documented(*PARTNER_ERRORS, *JOB_ERRORS)
@bp.arguments(JobInputSchema)
@bp.response(200, PartnerJobSchema)
def update_partner_job(data: dict[str, Any], job_id: int) -> Job:
    """Edit a job; on a published job a new title, description or contract goes to review."""
    job = get_job_or_404(job_id, partner=current_partner())
    services.update_job(job, actor=current_user, data=data)
    db.session.commit()
    return job


@bp.post("/partner/jobs/<int:job_id>/submit")
@PARTNER
@documented(*PARTNER_ERRORS, *JOB_ERRORS)
@bp.response(200, PartnerJobSchema)
def submit_partner_job(job_id: int) -> Job:
    """Send a draft (or a job sent back) to the moderators."""
    job = get_job_or_404(job_id, partner=current_partner())
    services.submit_job(job, actor=current_user)
    db.session.commit()
    return job

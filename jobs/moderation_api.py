"""Job moderation API: the moderators' decisions on submitted jobs (bearer token)."""

from __future__ import annotations

from typing import Any

from flask_login import current_user

from jobs import services
from jobs.access import get_job_or_404
from jobs.models import Job
from jobs.schemas import JobDecisionSchema, ModeratorJobSchema
from marketplace.api import Blueprint, auth_required
from marketplace.extensions import db

bp = Blueprint(
    "job_moderation_api", __name__, url_prefix="/moderation/jobs", description="Job moderation"
)

# Applied above @bp.arguments: the caller is checked before the body (anonymous → 401).
MODERATOR = auth_required(roles=("moderator",))
ERRORS = (
    (401, "Not signed in (send a bearer token)."),
    (403, "Not a moderator."),
    (404, "No such job."),
    (409, "The job is not waiting for review."),
    (422, "A reason (refusal) or a message (changes) is required."),
)


def documented(view: Any) -> Any:
    """Bearer security and the error answers every decision endpoint may give."""
    for status, description in ERRORS:
        view = bp.alt_response(status, description=description)(view)
    return bp.doc(security=[{"bearer": []}])(view)


@bp.post("/<int:job_id>/approve")
@MODERATOR
@documented
@bp.arguments(JobDecisionSchema, required=False)
@bp.response(200, ModeratorJobSchema)
def approve_job(data: dict[str, Any], job_id: int) -> Job:
    """Publish a submitted job for 60 days."""
    job = get_job_or_404(job_id)
    services.approve_job(job, actor=current_user)
    db.session.commit()
    return job


@bp.post("/<int:job_id>/reject")
@MODERATOR
@documented
@bp.arguments(JobDecisionSchema)
@bp.response(200, ModeratorJobSchema)
def reject_job(data: dict[str, Any], job_id: int) -> Job:
    """Refuse a submitted job with a reason."""
    job = get_job_or_404(job_id)
    services.reject_job(job, actor=current_user, reason=data["reason"] or data["message"])
    db.session.commit()
    return job


@bp.post("/<int:job_id>/request-changes")
@MODERATOR
@documented
@bp.arguments(JobDecisionSchema)
@bp.response(200, ModeratorJobSchema)
def request_job_changes(data: dict[str, Any], job_id: int) -> Job:
    """Send a job back to its partner with a message (``message`` or ``reason``)."""
    job = get_job_or_404(job_id)
    services.request_job_changes(job, actor=current_user, message=data["message"] or data["reason"])
    db.session.commit()
    return job

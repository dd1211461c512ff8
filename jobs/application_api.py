"""Applications API: apply, own applications, the partner's pipeline.

``/jobs/<id>/applications`` and ``/me/applications...`` serve the candidate (another member's
application is a 404); ``/partner/...`` serves the partner's team (another partner's job or
application is a 404). The CV is sent as multipart ``cv``, checked by content.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request, url_for
from flask_login import current_user
from flask_smorest.pagination import PaginationParameters
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import RequestEntityTooLarge

from jobs import application_services as services
from jobs.access import get_application_or_404, get_job_or_404
from jobs.application_views import commit_application, send_cv
from jobs.models import Application, Job
from jobs.schemas import (
    ApplicationStatusInputSchema,
    MemberApplicationSchema,
    PartnerApplicationSchema,
    PipelineQuerySchema,
)
from marketplace.accounts.models import User
from marketplace.api import Blueprint, auth_required
from marketplace.extensions import db, limiter
from partners.access import current_partner, partner_required

bp = Blueprint("applications_api", __name__, url_prefix="", description="Applications")

MAX_PAGE_SIZE = 100
PARTNER = partner_required()
APPLY_FORM = {
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["cv"],
                "properties": {
                    "cv": {"type": "string", "format": "binary", "description": "PDF, ≤ 5 MB"},
                    "cover_letter": {"type": "string"},
                    "retention_consent": {"type": "boolean"},
                },
            }
        }
    }
}


def documented(*answers: tuple[int, str]) -> Any:
    """Bearer security and the error answers of an endpoint."""

    def decorate(view: Any) -> Any:
        for status, description in answers:
            view = bp.alt_response(status, description=description)(view)
        return bp.doc(security=[{"bearer": []}])(view)

    return decorate


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge):
    """A body over MAX_CONTENT_LENGTH is refused before the view: say why."""
    return {
        "code": 413,
        "status": "Request Entity Too Large",
        "message": "The request is too large: a CV may be 5 MB at most.",
        "errors": {"reason": "too_large"},
    }, 413


def member_view(application: Application, history: list) -> dict[str, Any]:
    return {
        "id": application.id,
        "job_id": application.job_id,
        "job_title": application.job.title,
        "partner": application.job.partner.name,
        "status": application.status.value,
        "cover_letter": application.cover_letter,
        "cv_available": bool(application.cv_filename) and application.cv_deleted_at is None,
        "retention_consent": application.retention_consent,
        "submitted_at": application.submitted_at,
        "updated_at": application.updated_at,
        "withdrawn_at": application.withdrawn_at,
        "history": history,
    }


def partner_view(
    application: Application, candidate: User | None, notes: list | None = None
) -> dict[str, Any]:
    available = bool(application.cv_filename) and application.cv_deleted_at is None
    return {
        "id": application.id,
        "job_id": application.job_id,
        "job_title": application.job.title,
        "status": application.status.value,
        "cover_letter": application.cover_letter,
        "cv_available": available,
        "cv_url": url_for("applications_api.partner_application_cv", application_id=application.id)
        if available
        else None,
        "submitted_at": application.submitted_at,
        "updated_at": application.updated_at,
        "candidate": {"name": candidate.full_name, "email": candidate.email} if candidate else None,
        "notes": [
            {"id": note.id, "author": author, "body": note.body, "created_at": note.created_at}
            for note, author in (notes or [])
        ],
    }


# ---------------------------------------------------------------- candidate


@bp.post("/jobs/<int:job_id>/applications")
@auth_required(verified=True)
@limiter.limit("20/hour", override_defaults=False)
@documented(
    (401, "Not signed in (send a bearer token)."),
    (403, "Not a verified alumnus."),
    (404, "No such job."),
    (409, "Already applied to this job."),
    (410, "The job is closed."),
    (413, "The request body is larger than 6 MB."),
    (422, "Bad file: not a PDF, or larger than 5 MB."),
    (507, "The CV could not be stored; nothing was saved."),
)
@bp.doc(requestBody=APPLY_FORM)
@bp.response(201, MemberApplicationSchema)
def apply(job_id: int) -> dict[str, Any]:
    """Apply to a job with a PDF CV (multipart ``cv``) and a cover letter."""
    job = get_job_or_404(job_id, published=True)
    upload = request.files.get("cv")
    consent = request.form.get("retention_consent", "").lower() in {"1", "true", "yes", "on"}
    application = services.apply_to_job(
        job=job,
        user=db.session.get(User, current_user.id),
        cv_stream=upload.stream if upload else None,
        cv_name=upload.filename if upload else None,
        cover_letter=request.form.get("cover_letter"),
        retention_consent=consent,
    )
    commit_application(application)
    return member_view(application, services.histories([application.id])[application.id])


@bp.get("/me/applications")
@auth_required()
@documented((401, "Not signed in."))
@bp.response(200, MemberApplicationSchema(many=True))
@bp.paginate(page_size=20, max_page_size=MAX_PAGE_SIZE)
def my_applications(pagination_parameters: PaginationParameters) -> list[dict[str, Any]]:
    """The caller's own applications, newest first, each with its status history."""
    page = db.paginate(
        select(Application)
        .where(Application.user_id == current_user.id)
        .options(joinedload(Application.job).joinedload(Job.partner))
        .order_by(Application.submitted_at.desc(), Application.id.desc()),
        page=pagination_parameters.page,
        per_page=pagination_parameters.page_size,
        error_out=False,
    )
    pagination_parameters.item_count = page.total or 0
    items = list(page.items)
    history = services.histories([application.id for application in items])
    return [member_view(application, history[application.id]) for application in items]


@bp.post("/me/applications/<int:application_id>/withdraw")
@auth_required()
@documented(
    (401, "Not signed in."),
    (404, "No such application among the caller's."),
    (409, "The application can no longer be withdrawn."),
)
@bp.response(200, MemberApplicationSchema)
def withdraw(application_id: int) -> dict[str, Any]:
    """Withdraw one of the caller's applications; the partner's team is told."""
    application = get_application_or_404(application_id, applicant=current_user)
    services.withdraw_application(application=application, actor=current_user)
    db.session.commit()
    return member_view(application, services.histories([application.id])[application.id])


# ---------------------------------------------------------------- partner


@bp.get("/partner/jobs/<int:job_id>/applications")
@PARTNER
@documented(
    (401, "Not signed in."),
    (403, "Not a representative of an approved partner."),
    (404, "No such job among the partner's."),
)
@bp.arguments(PipelineQuerySchema, location="query", as_kwargs=True)
@bp.response(200, PartnerApplicationSchema(many=True))
@bp.paginate(page_size=50, max_page_size=MAX_PAGE_SIZE)
def partner_job_applications(
    job_id: int,
    pagination_parameters: PaginationParameters,
    status: str | None = None,
    q: str | None = None,
) -> list[dict[str, Any]]:
    """The applications to one of the partner's jobs, filtered by status and name."""
    job = get_job_or_404(job_id, partner=current_partner())
    query = services.pipeline_query(job, status=status, q=q)
    pagination_parameters.item_count = db.session.scalar(
        select(func.count()).select_from(query.order_by(None).subquery())
    )
    rows = db.session.execute(
        query.limit(pagination_parameters.page_size).offset(
            (pagination_parameters.page - 1) * pagination_parameters.page_size
        )
    ).all()
    notes = services.notes_of([application.id for application, _candidate in rows])
    return [partner_view(a, c, notes[a.id]) for a, c in rows]


@bp.patch("/partner/applications/<int:application_id>")
@PARTNER
@documented(
    (401, "Not signed in."),
    (403, "Not a representative of an approved partner."),
    (404, "No such application among the partner's."),
    (409, "The candidate has withdrawn this application."),
    (422, "Unknown status."),
)
@bp.arguments(ApplicationStatusInputSchema)
@bp.response(200, PartnerApplicationSchema)
def update_partner_application(data: dict[str, Any], application_id: int) -> dict[str, Any]:
    """Move an application in the pipeline (the candidate is e-mailed); add a private note."""
    application = get_application_or_404(application_id, partner=current_partner())
    services.change_status(application=application, to_status=data["status"], actor=current_user)
    if data.get("note"):
        services.add_note(application=application, author=current_user, body=data["note"])
    db.session.commit()
    candidate = db.session.get(User, application.user_id) if application.user_id else None
    return partner_view(application, candidate, services.notes_of([application.id])[application.id])


@bp.get("/partner/applications/<int:application_id>/cv")
@PARTNER
@documented(
    (401, "Not signed in."),
    (403, "Not a representative of an approved partner."),
    (404, "No such application among the partner's, or no CV any more."),
)
@bp.response(200, description="The CV (application/pdf, as an attachment).")
def partner_application_cv(application_id: int) -> Response:
    """Download the candidate's CV."""
    return send_cv(get_application_or_404(application_id, partner=current_partner()))

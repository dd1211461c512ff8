"""Public jobs API: GET /api/v1/jobs (search, filters, pages) and GET /api/v1/jobs/{id}.

Anyone may call it. A closed, expired or archived job (or a published one past its listing
or application deadline) answers 410 Gone; a job the public may not see answers 404.
"""

from __future__ import annotations

from typing import Any

from flask import abort
from flask_babel import gettext as _
from flask_smorest.pagination import PaginationParameters

from jobs import search
from jobs.access import get_job_or_404
from jobs.models import Job
from jobs.schemas import JobQuerySchema, PublicJobSchema
from marketplace.api import Blueprint
from marketplace.extensions import db

bp = Blueprint("jobs_api", __name__, url_prefix="/jobs", description="Jobs")

MAX_PAGE_SIZE = 100


def _filters(args: dict[str, Any]) -> search.JobFilters:
    return search.JobFilters(
        q=args["q"].strip(),
        contract=args["contract"],
        country=args["country"].strip().upper(),
        city=args["city"].strip(),
        remote=args["remote"],
        language=args["language"].strip().lower(),
        sort=search.Sort(args["sort"]) if args["sort"] else None,
    )


@bp.get("")
@bp.arguments(JobQuerySchema, location="query")
@bp.response(200, PublicJobSchema(many=True))
@bp.paginate(page_size=20, max_page_size=MAX_PAGE_SIZE)
def list_jobs(args: dict[str, Any], pagination_parameters: PaginationParameters) -> list[Job]:
    """Published jobs still open, searched and filtered; newest first, or by relevance."""
    statement = search.search_jobs(_filters(args))
    page = db.paginate(
        statement,
        page=pagination_parameters.page,
        per_page=pagination_parameters.page_size,
        error_out=False,
    )
    pagination_parameters.item_count = page.total or 0
    return list(page.items)


@bp.get("/<int:job_id>")
@bp.response(200, PublicJobSchema)
@bp.alt_response(404, description="No such published job.")
@bp.alt_response(410, description="The job is closed or has expired.")
def get_job(job_id: int) -> Job:
    """One published job; a closed or expired one answers 410 Gone."""
    job = get_job_or_404(job_id, published=True)
    if not search.job_is_open(job):
        abort(410, description=_("This job offer has ended."))
    return job

"""Public job pages: listing with search and filters, the job page."""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, current_app, render_template, request
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup

from jobs import application_views, moderation_views, pipeline_views, portal_views, search
from jobs.access import get_job_or_404
from jobs.labels import page_labels
from jobs.models import Contract, Remote
from marketplace.cache import cached
from marketplace.extensions import db
from marketplace.markdown import render_markdown
from marketplace.routing import page_arg

bp = Blueprint("jobs", __name__, url_prefix="/jobs")
bp.register_blueprint(portal_views.bp)
bp.register_blueprint(moderation_views.bp)
bp.register_blueprint(application_views.bp)
bp.register_blueprint(pipeline_views.bp)

APPLY_ENDPOINT = "jobs.applications.apply"

# The languages offered in the filter; a job may ask for any ISO 639-1 code.
FILTER_LANGUAGES = ("fr", "en", "de", "es", "it", "pt", "nl", "ar", "zh", "ja")


def _reader_is_verified() -> bool:
    return bool(current_user.is_authenticated and current_user.is_verified_alumnus)


# What a listing is computed from: a committed write to one of these tables renders it afresh.
LISTING_TABLES = ("jobs", "job_languages", "partners")
# Jobs open and close with the clock (deadlines, expiry), not with a write: a cached listing
# lives at most this long.
LISTING_CACHE_SECONDS = 60


def _results(filters: search.JobFilters, page_number: int, can_apply: bool) -> tuple[Markup, str]:
    """The rendered results and the spelling suggestion whose jobs they show ("" for none)."""
    statement = search.search_jobs(filters)
    page = db.paginate(statement, page=page_number, per_page=search.PAGE_SIZE, error_out=False)
    if page_number > 1 and not page.items and page.pages:
        page = db.paginate(statement, page=page.pages, per_page=search.PAGE_SIZE)
    suggestion = search.suggest_query(filters) if not page.items and filters.q else None
    if suggestion:
        # Nothing matched what was typed: show what its closest spelling finds.
        filters = replace(filters, q=suggestion)
        page = db.paginate(search.search_jobs(filters), page=1, per_page=search.PAGE_SIZE)
    html = render_template(
        "jobs/_results.html",
        page=page,
        suggestion=suggestion,
        args=filters.as_args(),
        can_apply=can_apply,
        **page_labels(),
    )
    return Markup(html), suggestion or ""  # noqa: S704 - an autoescaping Jinja template


@bp.get("/")
def index():
    filters = search.JobFilters.from_args(request.args)
    page_number = page_arg()
    can_apply = _reader_is_verified()
    # Every reader of a kind (may apply or not) sees the same cards: rendered once per
    # language, kind, search and page, like the offers' results.
    key = (str(get_locale()), int(can_apply), page_number, *sorted(filters.as_args().items()))
    results, suggestion = cached(
        "job-results",
        LISTING_TABLES,
        key,
        lambda: _results(filters, page_number, can_apply),
        timeout=LISTING_CACHE_SECONDS,
    )
    if suggestion:
        filters = replace(filters, q=suggestion)
    return render_template(
        "jobs/index.html",
        results=results,
        suggestion=suggestion,
        filters=filters,
        args=filters.as_args(),
        sorts=search.Sort,
        contracts=list(Contract),
        remotes=list(Remote),
        filter_languages=FILTER_LANGUAGES,
        can_apply=can_apply,
        **page_labels(),
    )


@bp.get("/<int:job_id>")
def detail(job_id: int):
    job = get_job_or_404(job_id, published=True)
    return render_template(
        "jobs/detail.html",
        job=job,
        ended=not search.job_is_open(job),
        description=render_markdown(job.description),
        can_apply=_reader_is_verified(),
        apply_available=APPLY_ENDPOINT in current_app.view_functions,
        apply_endpoint=APPLY_ENDPOINT,
        **page_labels(),
    )

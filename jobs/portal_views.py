"""The partner portal's job pages (nested under jobs: endpoints ``jobs.portal.*``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from jobs import services
from jobs.access import get_job_or_404
from jobs.forms import (
    CONTRACT_LABELS,
    LANGUAGE_LABELS,
    REMOTE_LABELS,
    ActionForm,
    CloseForm,
    JobForm,
)
from jobs.models import Application, Job, JobStatus, JobStatusChange
from marketplace.accounts.models import User
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.i18n import country_name
from partners.access import current_partner, partner_required

logger = logging.getLogger(__name__)

bp = Blueprint("portal", __name__, url_prefix="/manage")

PIPELINE_ENDPOINT = "jobs.pipeline.job"
STATUS_LABELS = {
    JobStatus.DRAFT: _l("Draft"),
    JobStatus.SUBMITTED: _l("Waiting for review"),
    JobStatus.CHANGES_REQUESTED: _l("Changes requested"),
    JobStatus.REJECTED: _l("Not accepted"),
    JobStatus.PUBLISHED: _l("Published"),
    JobStatus.CLOSED: _l("Closed"),
    JobStatus.EXPIRED: _l("Expired"),
    JobStatus.ARCHIVED: _l("Archived"),
}
FILLED_LABELS = {True: _l("Yes"), False: _l("No"), None: _l("Not said")}
# Which buttons each status shows (the services check again).
ACTIONS = {
    "submit": services.EDITABLE,
    "repost": services.REPOSTABLE,
    "archive": set(JobStatus) - {JobStatus.ARCHIVED},
}


def status_label(status: Any) -> str:
    """A status's name for people."""
    try:
        return str(STATUS_LABELS[JobStatus(status)])
    except ValueError:
        return str(status)


def job_helpers() -> dict[str, Any]:
    """Labels shared by the portal and review templates."""
    return {
        "job_status_label": status_label,
        "contract_label": lambda value: CONTRACT_LABELS.get(value, value),
        "remote_label": lambda value: REMOTE_LABELS.get(value, value),
        "language_label": lambda code: LANGUAGE_LABELS.get(code, code),
        "filled_label": lambda value: FILLED_LABELS[value],
        "country_name": country_name,
    }


bp.context_processor(job_helpers)


def application_counts(job_ids: list[int]) -> dict[int, int]:
    """Applications per job, in one query."""
    if not job_ids:
        return {}
    rows = db.session.execute(
        select(Application.job_id, func.count(Application.id))
        .where(Application.job_id.in_(job_ids))
        .group_by(Application.job_id)
    )
    return dict(rows.tuples().all())


def history(job: Job) -> list[tuple[JobStatusChange, User | None]]:
    """The job's status changes, newest first, with who made them."""
    return list(
        db.session.execute(
            select(JobStatusChange, User)
            .outerjoin(User, User.id == JobStatusChange.actor_id)
            .where(JobStatusChange.job_id == job.id)
            .order_by(JobStatusChange.created_at.desc(), JobStatusChange.id.desc())
        ).tuples()
    )


def pipeline_available() -> bool:
    """Whether the applicant pipeline pages exist (another part of the job board)."""
    return PIPELINE_ENDPOINT in current_app.view_functions


# ---------------------------------------------------------------- pages


@bp.get("/")
@partner_required()
def index() -> str:
    partner = current_partner()
    jobs = list(
        db.session.scalars(
            select(Job)
            .where(Job.partner_id == partner.id)
            .order_by(Job.created_at.desc(), Job.id.desc())
        )
    )
    return render_template(
        "jobs/portal/index.html",
        partner=partner,
        jobs=jobs,
        counts=application_counts([job.id for job in jobs]),
        pipeline=pipeline_available(),
        pipeline_endpoint=PIPELINE_ENDPOINT,
    )


@bp.route("/new", methods=["GET", "POST"])
@partner_required()
def create() -> str | Response:
    partner = current_partner()
    form = JobForm()
    if form.validate_on_submit():
        try:
            job = services.create_job(partner, actor=current_user, data=form.fields())
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(str(error.message))
        else:
            db.session.commit()
            flash(_("Your draft job was saved."), "success")
            return redirect(url_for("jobs.portal.detail", job_id=job.id))
    return render_template("jobs/portal/form.html", form=form, job=None, partner=partner)


@bp.get("/<int:job_id>")
@partner_required()
def detail(job_id: int) -> str:
    partner = current_partner()
    job = get_job_or_404(job_id, partner=partner)
    return render_template(
        "jobs/portal/detail.html",
        partner=partner,
        job=job,
        history=history(job),
        action_form=ActionForm(),
        close_form=CloseForm(),
        actions={name: job.status in states for name, states in ACTIONS.items()},
        problems=services.completeness_problems(job) if job.status in services.EDITABLE else [],
        applications=application_counts([job.id]).get(job.id, 0),
        pipeline=pipeline_available(),
        pipeline_endpoint=PIPELINE_ENDPOINT,
    )


@bp.route("/<int:job_id>/edit", methods=["GET", "POST"])
@partner_required()
def edit(job_id: int) -> str | Response:
    partner = current_partner()
    job = get_job_or_404(job_id, partner=partner)
    if job.status not in services.EDITABLE | {JobStatus.PUBLISHED}:
        flash(_("This job cannot be edited in its current state."), "error")
        return redirect(url_for("jobs.portal.detail", job_id=job.id))
    form = JobForm(obj=job, languages=job.languages)
    if form.validate_on_submit():
        try:
            review = services.update_job(job, actor=current_user, data=form.fields())
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(str(error.message))
        else:
            db.session.commit()
            if review:
                flash(
                    _("Your changes were sent for review; the job is listed again once approved.")
                )
            else:
                flash(_("Your job was saved."), "success")
            return redirect(url_for("jobs.portal.detail", job_id=job.id))
    return render_template("jobs/portal/form.html", form=form, job=job, partner=partner)


def _action(job_id: int, service: Callable[[Job], None], message: str) -> Response:
    job = get_job_or_404(job_id, partner=current_partner())
    if not ActionForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("jobs.portal.detail", job_id=job.id))
    try:
        service(job)
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
    else:
        db.session.commit()
        flash(message, "success")
    return redirect(url_for("jobs.portal.detail", job_id=job_id))


@bp.post("/<int:job_id>/submit")
@partner_required()
def submit(job_id: int) -> Response:
    return _action(
        job_id,
        lambda job: services.submit_job(job, actor=current_user),
        _("Your job was sent for review."),
    )


@bp.post("/<int:job_id>/repost")
@partner_required()
def repost(job_id: int) -> Response:
    return _action(
        job_id,
        lambda job: services.repost_job(job, actor=current_user),
        _("Your job is listed again for 60 days."),
    )


@bp.post("/<int:job_id>/archive")
@partner_required()
def archive(job_id: int) -> Response:
    return _action(
        job_id,
        lambda job: services.archive_job(job, actor=current_user),
        _("Your job is archived."),
    )


@bp.post("/<int:job_id>/close")
@partner_required()
def close(job_id: int) -> Response:
    job = get_job_or_404(job_id, partner=current_partner())
    form = CloseForm()
    if not form.validate_on_submit():
        flash(_("Please answer the question before closing."), "error")
        return redirect(url_for("jobs.portal.detail", job_id=job.id))
    try:
        services.close_job(job, actor=current_user, filled_through_network=form.answer())
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
    else:
        db.session.commit()
        flash(_("Your job is closed. Thank you for your answer."), "success")
    return redirect(url_for("jobs.portal.detail", job_id=job.id))

"""The staff's job review queue (endpoints ``jobs.moderation.*``)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from jobs import services
from jobs.access import get_job_or_404
from jobs.forms import ActionForm, RejectForm, RequestChangesForm
from jobs.labels import page_labels
from jobs.models import Job, JobStatus
from jobs.portal_views import history, job_helpers
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.markdown import render_markdown
from marketplace.security import moderator_required

logger = logging.getLogger(__name__)

bp = Blueprint("moderation", __name__, url_prefix="/moderation")
bp.context_processor(job_helpers)


@bp.get("/")
@moderator_required
def queue() -> str:
    jobs = list(
        db.session.scalars(
            select(Job)
            .where(Job.status == JobStatus.SUBMITTED)
            .options(joinedload(Job.partner))
            .order_by(Job.submitted_at.asc().nulls_first(), Job.id)
        )
    )
    return render_template("jobs/moderation/queue.html", jobs=jobs)


@bp.get("/<int:job_id>")
@moderator_required
def review(job_id: int) -> str:
    job = get_job_or_404(job_id)
    return render_template(
        "jobs/moderation/review.html",
        job=job,
        history=history(job),
        in_review=job.status == JobStatus.SUBMITTED,
        approve_form=ActionForm(),
        reject_form=RejectForm(),
        changes_form=RequestChangesForm(),
    )


@bp.get("/<int:job_id>/preview")
@moderator_required
def preview(job_id: int) -> str:
    """The job page exactly as a verified alumnus will see it once published."""
    job = get_job_or_404(job_id)
    return render_template(
        "jobs/detail.html",
        job=job,
        ended=False,
        description=render_markdown(job.description),
        can_apply=True,
        apply_available=True,
        preview=True,
        back_url=url_for("jobs.moderation.review", job_id=job.id),
        **page_labels(),
    )


def _decide(job_id: int, form: FlaskForm, call: Callable[[Job], None], done: str) -> Response:
    job = get_job_or_404(job_id)
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return redirect(url_for("jobs.moderation.review", job_id=job.id))
    try:
        call(job)
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for("jobs.moderation.review", job_id=job.id))
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("jobs.moderation.queue"))


@bp.post("/<int:job_id>/approve")
@moderator_required
def approve(job_id: int) -> Response:
    return _decide(
        job_id,
        ActionForm(),
        lambda job: services.approve_job(job, actor=current_user),
        _("The job was approved."),
    )


@bp.post("/<int:job_id>/reject")
@moderator_required
def reject(job_id: int) -> Response:
    form = RejectForm()
    return _decide(
        job_id,
        form,
        lambda job: services.reject_job(job, actor=current_user, reason=form.reason.data),
        _("The job was refused."),
    )


@bp.post("/<int:job_id>/request-changes")
@moderator_required
def request_changes(job_id: int) -> Response:
    form = RequestChangesForm()
    return _decide(
        job_id,
        form,
        lambda job: services.request_job_changes(
            job, actor=current_user, message=form.message.data
        ),
        _("The partner was asked for changes."),
    )

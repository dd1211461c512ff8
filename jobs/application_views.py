"""A member's applications: apply, follow, withdraw (endpoints ``jobs.applications.*``)."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import BuildError
from wtforms import BooleanField, TextAreaField
from wtforms.validators import Length, Optional

from jobs import application_services as services
from jobs.access import get_application_or_404, get_job_or_404
from jobs.models import Application, Job
from marketplace.accounts.models import User
from marketplace.errors import DomainError
from marketplace.extensions import db, limiter
from marketplace.security import login_required, verified_alumnus_required

bp = Blueprint("applications", __name__, url_prefix="/applications")


class ApplicationForm(FlaskForm):
    """Apply to a job: a PDF CV, a cover letter, the retention consent."""

    cv = FileField(_l("Your CV (PDF, 5 MB at most)"))
    cover_letter = TextAreaField(
        _l("Cover letter"), validators=[Optional(), Length(max=services.MAX_COVER_LETTER)]
    )
    retention_consent = BooleanField(
        _l("Keep my application 2 years after a refusal (else it is deleted after 3 months)")
    )


class ActionForm(FlaskForm):
    """A button that only carries the CSRF token."""


def job_url(job: Job) -> str | None:
    """The public page of ``job`` when the job pages are installed."""
    try:
        return url_for("jobs.detail", job_id=job.id)
    except BuildError:
        return None


@bp.app_context_processor
def application_helpers() -> dict[str, Any]:
    return {"application_status_label": services.status_label, "job_url": job_url}


def send_cv(application: Application) -> Response:
    """The CV as a download that a browser never renders inline."""
    path = services.cv_path(application)
    if path is None:
        abort(404)
    response = send_file(
        path,
        mimetype="application/pdf",
        as_attachment=True,
        download_name=application.cv_original_name or "cv.pdf",
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def commit_application(application: Application) -> None:
    """Commit the new application; if the commit fails its stored CV goes too."""
    filename = application.cv_filename
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        services.delete_cv_file(filename)
        raise


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge):
    """A body over MAX_CONTENT_LENGTH never reaches the view: say why, plainly."""
    return (
        render_template(
            "errors/generic.html",
            status=413,
            description=_("The file is too large: a CV may be 5 MB at most."),
        ),
        413,
    )


@bp.route("/apply/<int:job_id>", methods=["GET", "POST"])
@verified_alumnus_required
@limiter.limit("20/hour", methods=["POST"])
def apply(job_id: int):
    """The application form of a job, and its submission."""
    job = get_job_or_404(job_id, published=True)
    try:
        services.check_job_open(job)
    except DomainError as error:
        abort(error.status)
    user = db.session.get(User, current_user.id)
    form = ApplicationForm()
    status = 200
    error_message = None
    if services.has_applied(job, user):
        status = 409 if request.method == "POST" else 200
        return render_template(
            "jobs/applications/apply.html", job=job, form=None, already=True
        ), status
    if form.validate_on_submit():
        upload = form.cv.data
        try:
            application = services.apply_to_job(
                job=job,
                user=user,
                cv_stream=upload.stream if upload else None,
                cv_name=upload.filename if upload else None,
                cover_letter=form.cover_letter.data,
                retention_consent=form.retention_consent.data,
            )
        except DomainError as error:
            db.session.rollback()
            status, error_message = error.status, str(error.message)
        else:
            commit_application(application)
            flash(_("Your application was sent. You will be told of each step."), "success")
            return redirect(url_for("jobs.applications.index"))
    elif request.method == "POST":
        status = 422
    return render_template(
        "jobs/applications/apply.html",
        job=job,
        form=form,
        already=False,
        error_message=error_message,
    ), status


@bp.get("/")
@login_required
def index() -> str:
    """The member's applications, each with its status history."""
    applications = services.applications_of_member(current_user)
    history = services.histories([application.id for application in applications])
    return render_template(
        "jobs/applications/index.html",
        applications=applications,
        history=history,
        withdrawable=services.WITHDRAWABLE,
        form=ActionForm(),
        cv_available=lambda a: bool(a.cv_filename) and a.cv_deleted_at is None,
    )


@bp.post("/<int:application_id>/withdraw")
@login_required
def withdraw(application_id: int) -> Response:
    """The candidate withdraws one of their applications."""
    application = get_application_or_404(application_id, applicant=current_user)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        services.withdraw_application(application=application, actor=current_user)
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
    else:
        db.session.commit()
        flash(_("Your application was withdrawn."), "success")
    return redirect(url_for("jobs.applications.index"))


@bp.get("/<int:application_id>/cv")
@login_required
def cv(application_id: int) -> Response:
    """The candidate downloads the CV they sent."""
    return send_cv(get_application_or_404(application_id, applicant=current_user))

"""The partner's applicant pipeline (endpoints ``jobs.pipeline.*``).

Every route loads the job or application through the caller's partner: another partner's id
answers 404. Notes stay with the partner's team; the candidate is e-mailed on status changes.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from jobs import application_services as services
from jobs.access import get_application_or_404, get_job_or_404
from jobs.application_views import send_cv
from jobs.models import Application, ApplicationStatus
from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.errors import DomainError
from marketplace.extensions import db
from partners.access import current_partner, partner_required

bp = Blueprint("pipeline", __name__, url_prefix="/manage/pipeline")

PARTNER = partner_required()


def _status_choices() -> list[tuple[str, str]]:
    return [(status.value, services.status_label(status)) for status in services.PIPELINE_STATUSES]


class StatusForm(FlaskForm):
    """The status to give to one application or to the checked ones."""

    status = SelectField(_l("New status"), validators=[DataRequired()])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.status.choices = _status_choices()


class NoteForm(FlaskForm):
    """A private note of the team."""

    body = TextAreaField(
        _l("Private note"), validators=[DataRequired(), Length(max=services.MAX_NOTE)]
    )


@bp.get("/<int:job_id>")
@PARTNER
def job(job_id: int) -> str:
    """The job's applications, filtered by status and candidate name, with bulk actions."""
    job = get_job_or_404(job_id, partner=current_partner())
    status = request.args.get("status", "")
    if status not in {s.value for s in ApplicationStatus}:
        status = ""
    q = request.args.get("q", "").strip()[:100]
    rows = db.session.execute(services.pipeline_query(job, status=status or None, q=q)).all()
    return render_template(
        "jobs/pipeline/job.html",
        job=job,
        rows=rows,
        status=status,
        q=q,
        statuses=list(ApplicationStatus),
        form=StatusForm(),
    )


@bp.post("/<int:job_id>/status")
@PARTNER
def bulk_status(job_id: int) -> Response:
    """Give one status to every checked application of the job."""
    job = get_job_or_404(job_id, partner=current_partner())
    form = StatusForm()
    try:
        ids = {int(value) for value in request.form.getlist("application_ids")}
    except ValueError:
        abort(400)
    if not form.validate_on_submit():
        flash(_("Choose a status."), "error")
        return redirect(url_for("jobs.pipeline.job", job_id=job.id))
    if not ids:
        flash(_("Check at least one application."), "error")
        return redirect(url_for("jobs.pipeline.job", job_id=job.id))
    applications = list(
        db.session.scalars(
            select(Application)
            .options(joinedload(Application.job))
            .where(Application.job_id == job.id, Application.id.in_(ids))
        )
    )
    # An id from another job (or partner) is not ours to touch: nothing changes.
    if len(applications) != len(ids):
        abort(404)
    try:
        moved = services.change_statuses(
            applications=applications, to_status=form.status.data, actor=current_user
        )
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
    else:
        db.session.commit()
        flash(_("%(count)d application(s) updated.", count=moved), "success")
    return redirect(url_for("jobs.pipeline.job", job_id=job.id))


@bp.get("/applications/<int:application_id>")
@PARTNER
def application(application_id: int) -> str:
    """One application: cover letter, history, private notes, status."""
    application = get_application_or_404(application_id, partner=current_partner())
    candidate = db.session.get(User, application.user_id) if application.user_id else None
    form = StatusForm(status=application.status.value)
    return render_template(
        "jobs/pipeline/application.html",
        application=application,
        candidate=candidate,
        history=services.histories([application.id])[application.id],
        notes=services.notes_of([application.id])[application.id],
        form=form,
        note_form=NoteForm(),
        cv_available=services.cv_path(application) is not None,
    )


@bp.post("/applications/<int:application_id>/status")
@PARTNER
def status(application_id: int) -> Response:
    """Move one application; the candidate is e-mailed."""
    application = get_application_or_404(application_id, partner=current_partner())
    form = StatusForm()
    if not form.validate_on_submit():
        flash(_("Choose a status."), "error")
    else:
        try:
            changed = services.change_status(
                application=application, to_status=form.status.data, actor=current_user
            )
        except DomainError as error:
            db.session.rollback()
            flash(str(error.message), "error")
        else:
            db.session.commit()
            if changed:
                flash(_("The status was changed and the candidate told."), "success")
    return redirect(url_for("jobs.pipeline.application", application_id=application.id))


@bp.post("/applications/<int:application_id>/notes")
@PARTNER
def note(application_id: int) -> Response:
    """Add a private note (never shown to the candidate)."""
    application = get_application_or_404(application_id, partner=current_partner())
    form = NoteForm()
    if not form.validate_on_submit():
        flash(_("Write a note of at most 5,000 characters."), "error")
    else:
        try:
            services.add_note(application=application, author=current_user, body=form.body.data)
        except DomainError as error:
            db.session.rollback()
            flash(str(error.message), "error")
        else:
            db.session.commit()
            flash(_("Note added."), "success")
    return redirect(url_for("jobs.pipeline.application", application_id=application.id))


@bp.get("/applications/<int:application_id>/cv")
@PARTNER
def cv(application_id: int) -> Response:
    """The candidate's CV, for the partner's team only, as an attachment."""
    return send_cv(get_application_or_404(application_id, partner=current_partner()))


@bp.get("/<int:job_id>/applications.csv")
@PARTNER
def export(job_id: int) -> Response:
    """The job's applications as CSV, streamed (no row cap)."""
    job = get_job_or_404(job_id, partner=current_partner())
    name = f"applications-job-{job.id}-{utcnow():%Y-%m-%d}.csv"
    return Response(
        stream_with_context(services.export_applications(job)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )

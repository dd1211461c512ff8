"""Application services: apply with a CV, withdraw, pipeline status changes, notes, retention.

Every function flushes and never commits. Each status change adds an
``ApplicationStatusChange`` row (the history the candidate sees) and e-mails the person on the
other side. CVs are PDF files checked by content, stored under ``UPLOAD_FOLDER/cvs`` with a
random name; the file is written before the row and removed again when the row cannot be
inserted, so a failure leaves neither an orphan row nor an orphan file.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import logging
import secrets
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from jobs import pdf_check
from jobs.models import (
    Application,
    ApplicationNote,
    ApplicationStatus,
    ApplicationStatusChange,
    Job,
    JobStatus,
)
from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.errors import Conflict, DomainError, InvalidInput, NotFound
from marketplace.extensions import db
from marketplace.i18n import N_
from marketplace.notifications.services import queue_mail
from partners.access import active_members

logger = logging.getLogger(__name__)

CV_FOLDER = "cvs"
PDF_MAGIC = b"%PDF-"
MAX_COVER_LETTER = 10000
MAX_NOTE = 5000
# DESIGN "Privacy": applications 3 months after a refusal (2 years with consent), CVs of
# closed jobs after 6 months.
REFUSED_RETENTION = timedelta(days=91)
CONSENTED_RETENTION = timedelta(days=730)
CLOSED_JOB_CV_RETENTION = timedelta(days=182)

PIPELINE_STATUSES = (
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.IN_REVIEW,
    ApplicationStatus.INTERVIEW,
    ApplicationStatus.OFFER,
    ApplicationStatus.HIRED,
    ApplicationStatus.REJECTED,
)
WITHDRAWABLE = {
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.IN_REVIEW,
    ApplicationStatus.INTERVIEW,
    ApplicationStatus.OFFER,
}
ENDED_JOB = {JobStatus.CLOSED, JobStatus.EXPIRED, JobStatus.ARCHIVED}

STATUS_LABELS = {
    ApplicationStatus.SUBMITTED: _l("Sent"),
    ApplicationStatus.IN_REVIEW: _l("In review"),
    ApplicationStatus.INTERVIEW: _l("Interview"),
    ApplicationStatus.OFFER: _l("Job offer made"),
    ApplicationStatus.HIRED: _l("Hired"),
    ApplicationStatus.REJECTED: _l("Not retained"),
    ApplicationStatus.WITHDRAWN: _l("Withdrawn"),
}


class AlreadyApplied(Conflict):
    code = "already_applied"
    message = _l("You have already applied to this job.")


class JobClosed(DomainError):
    status = 410
    code = "job_closed"
    message = _l("This job is closed: it no longer takes applications.")


class InvalidCV(InvalidInput):
    code = "invalid_cv"
    message = _l("Send your CV as a PDF file of at most 5 MB.")


class StorageUnavailable(DomainError):
    status = 507
    code = "storage_unavailable"
    message = _l("Your CV could not be saved: our storage is full. Nothing was sent; try later.")


class InvalidTransition(Conflict):
    code = "invalid_status"
    message = _l("This application cannot move to that status.")


def status_label(status: ApplicationStatus | str) -> str:
    """The reader's label of an application status."""
    return str(STATUS_LABELS[ApplicationStatus(status)])


# ---------------------------------------------------------------- CV files


def cv_folder() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]) / CV_FOLDER


def cv_path(application: Application) -> Path | None:
    """The stored CV of ``application``, or None when there is none (any more)."""
    if not application.cv_filename or application.cv_deleted_at is not None:
        return None
    # Only the generated name is used, never a path: no traversal even with a bad row.
    path = cv_folder() / Path(application.cv_filename).name
    return path if path.is_file() else None


def read_cv(stream: IO[bytes], original_name: str | None) -> bytes:
    """The CV's bytes, once checked: a ``.pdf`` name, PDF content, at most 5 MB."""
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    if not (original_name or "").lower().endswith(".pdf"):
        raise InvalidCV(_l("The CV must be a PDF file (.pdf)."))
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InvalidCV(_l("The CV is larger than 5 MB."))
    # The extension proves nothing: an HTML page or a program renamed .pdf is refused here.
    if not data.startswith(PDF_MAGIC):
        raise InvalidCV(_l("This file is not a PDF document."))
    try:
        active = pdf_check.active_content(data)
    except pdf_check.TooComplex:
        active = {b"too complex"}
    if active:
        logger.info("CV refused: active PDF content %s", sorted(active))
        raise InvalidCV(
            _l(
                "This PDF contains scripts, actions or attached files, which a CV does not "
                "need. Export or print your CV to PDF again and send that file."
            )
        )
    return data


def write_cv(data: bytes) -> str:
    """Store checked CV bytes under a new random name; a failed write leaves no file."""
    folder = cv_folder()
    name = f"{secrets.token_hex(16)}.pdf"
    path = folder / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with path.open("xb") as handle:
            handle.write(data)
            handle.flush()
    except OSError as error:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
        logger.error("CV not stored: %s", errno.errorcode.get(error.errno or 0, type(error)))
        raise StorageUnavailable from error
    return name


def delete_cv_file(filename: str | None) -> None:
    """Remove a stored CV file (one no row points to any more)."""
    if filename:
        (cv_folder() / Path(filename).name).unlink(missing_ok=True)


# ---------------------------------------------------------------- e-mails


def _mail_team(application: Application, *, template: str, subject: str) -> None:
    candidate = db.session.get(User, application.user_id) if application.user_id else None
    for user in active_members(application.job.partner_id):
        queue_mail(
            to=user.email,
            template=f"jobs/{template}",
            subject=subject,
            locale=user.locale,
            user=user,
            application=application,
            job=application.job,
            candidate_name=candidate.full_name if candidate else "",
        )


def _mail_candidate(application: Application, *, template: str, subject: str) -> None:
    candidate = db.session.get(User, application.user_id) if application.user_id else None
    if candidate is None:
        return
    queue_mail(
        to=candidate.email,
        template=f"jobs/{template}",
        subject=subject,
        locale=candidate.locale,
        user=candidate,
        application=application,
        job=application.job,
        status_label=status_label,
    )


# ---------------------------------------------------------------- apply, withdraw


def _history(
    application: Application, *, from_status: str | None, to_status: str, actor: User | None
) -> None:
    db.session.add(
        ApplicationStatusChange(
            application_id=application.id,
            from_status=from_status,
            to_status=to_status,
            actor_id=actor.id if actor else None,
        )
    )


def check_job_open(job: Job, *, now: datetime | None = None) -> None:
    """Raise unless ``job`` takes applications (published, listing and deadline not past)."""
    now = now or utcnow()
    if job.status in ENDED_JOB:
        raise JobClosed
    if job.status != JobStatus.PUBLISHED:
        raise NotFound(_l("No such job."))
    if job.listed_until is not None and job.listed_until <= now:
        raise JobClosed
    if job.apply_deadline is not None and job.apply_deadline < now.date():
        raise JobClosed(_l("The deadline to apply to this job has passed."))


def has_applied(job: Job, user: User) -> bool:
    return (
        db.session.scalar(
            select(Application.id).where(
                Application.job_id == job.id, Application.user_id == user.id
            )
        )
        is not None
    )


def apply_to_job(
    *,
    job: Job,
    user: User,
    cv_stream: IO[bytes] | None,
    cv_name: str | None,
    cover_letter: str | None,
    retention_consent: bool = False,
) -> Application:
    """Apply ``user`` to ``job`` with a PDF CV: one application per member and job."""
    check_job_open(job)
    if has_applied(job, user):
        raise AlreadyApplied
    if cv_stream is None or not cv_name:
        raise InvalidCV(_l("Attach your CV (a PDF file)."))
    letter = (cover_letter or "").strip()
    if len(letter) > MAX_COVER_LETTER:
        raise InvalidInput(_l("The cover letter is too long (10,000 characters at most)."))
    data = read_cv(cv_stream, cv_name)
    filename = write_cv(data)
    application = Application(
        job_id=job.id,
        user_id=user.id,
        status=ApplicationStatus.SUBMITTED,
        cover_letter=letter or None,
        cv_filename=filename,
        cv_original_name=Path(cv_name).name[-255:],
        cv_size=len(data),
        retention_consent=bool(retention_consent),
    )
    application.job = job
    try:
        # A concurrent submission of the same member wins the UNIQUE(job_id, user_id) race:
        # the savepoint keeps the rest of the transaction usable.
        with db.session.begin_nested():
            db.session.add(application)
            db.session.flush()
            _history(application, from_status=None, to_status="submitted", actor=user)
            db.session.flush()
    except IntegrityError as error:
        delete_cv_file(filename)
        raise AlreadyApplied from error
    except BaseException:
        delete_cv_file(filename)
        raise
    logger.info("application %s: user %s applied to job %s", application.id, user.id, job.id)
    _mail_candidate(
        application, template="application_received", subject=N_("Your application was sent")
    )
    _mail_team(application, template="application_new", subject=N_("A new application"))
    return application


def withdraw_application(*, application: Application, actor: User) -> None:
    """The candidate withdraws their application; the partner's team is told."""
    if application.status not in WITHDRAWABLE:
        raise InvalidTransition(_l("This application can no longer be withdrawn."))
    previous = application.status
    application.status = ApplicationStatus.WITHDRAWN
    application.withdrawn_at = utcnow()
    _history(application, from_status=previous.value, to_status="withdrawn", actor=actor)
    db.session.flush()
    logger.info("application %s withdrawn by %s", application.id, actor.id)
    _mail_team(
        application, template="application_withdrawn", subject=N_("An application was withdrawn")
    )


# ---------------------------------------------------------------- pipeline


def change_status(
    *, application: Application, to_status: ApplicationStatus | str, actor: User
) -> bool:
    """Move an application in the pipeline and e-mail the candidate; False if unchanged."""
    try:
        target = ApplicationStatus(to_status)
    except ValueError as error:
        raise InvalidInput(_l("Unknown status.")) from error
    if target not in PIPELINE_STATUSES:
        raise InvalidTransition
    if application.status == ApplicationStatus.WITHDRAWN:
        raise InvalidTransition(_l("The candidate has withdrawn this application."))
    if application.status == target:
        return False
    previous = application.status
    application.status = target
    application.rejected_at = utcnow() if target == ApplicationStatus.REJECTED else None
    _history(application, from_status=previous.value, to_status=target.value, actor=actor)
    db.session.flush()
    logger.info("application %s %s -> %s by %s", application.id, previous, target, actor.id)
    _mail_candidate(
        application,
        template="application_status",
        subject=N_("News about your application"),
    )
    return True


def change_statuses(
    *, applications: Iterable[Application], to_status: ApplicationStatus | str, actor: User
) -> int:
    """Bulk status change; withdrawn applications are skipped. Returns how many moved."""
    moved = 0
    for application in applications:
        if application.status == ApplicationStatus.WITHDRAWN:
            continue
        moved += change_status(application=application, to_status=to_status, actor=actor)
    return moved


def add_note(*, application: Application, author: User, body: str) -> ApplicationNote:
    """A private note of the partner's team (never shown to the candidate)."""
    text = (body or "").strip()
    if not text:
        raise InvalidInput(_l("Write the note first."))
    if len(text) > MAX_NOTE:
        raise InvalidInput(_l("The note is too long (5,000 characters at most)."))
    note = ApplicationNote(application_id=application.id, author_id=author.id, body=text)
    db.session.add(note)
    db.session.flush()
    return note


def histories(application_ids: list[int]) -> dict[int, list[ApplicationStatusChange]]:
    """The status changes of several applications in one query, oldest first."""
    result: dict[int, list[ApplicationStatusChange]] = {i: [] for i in application_ids}
    if application_ids:
        rows = db.session.scalars(
            select(ApplicationStatusChange)
            .where(ApplicationStatusChange.application_id.in_(application_ids))
            .order_by(ApplicationStatusChange.created_at, ApplicationStatusChange.id)
        )
        for row in rows:
            result[row.application_id].append(row)
    return result


def notes_of(application_ids: list[int]) -> dict[int, list[tuple[ApplicationNote, str]]]:
    """The notes (with their author's name) of several applications in one query."""
    result: dict[int, list[tuple[ApplicationNote, str]]] = {i: [] for i in application_ids}
    if application_ids:
        rows = db.session.execute(
            select(ApplicationNote, User.full_name)
            .outerjoin(User, User.id == ApplicationNote.author_id)
            .where(ApplicationNote.application_id.in_(application_ids))
            .order_by(ApplicationNote.created_at, ApplicationNote.id)
        )
        for note, name in rows:
            result[note.application_id].append((note, name or ""))
    return result


def pipeline_query(job: Job, *, status: str | None = None, q: str | None = None):
    """The job's applications with their candidate, filtered by status and candidate name."""
    query = (
        select(Application, User)
        .outerjoin(User, User.id == Application.user_id)
        .where(Application.job_id == job.id)
        .order_by(Application.submitted_at.desc(), Application.id.desc())
    )
    if status:
        query = query.where(Application.status == ApplicationStatus(status))
    text = (q or "").strip()
    if text:
        query = query.where(func.lower(User.full_name).contains(text.lower(), autoescape=True))
    return query


# ---------------------------------------------------------------- CSV export

# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula (a leading quote disarms it)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def export_applications(job: Job, *, batch: int = 500) -> Iterator[str]:
    """The job's applications as CSV lines, streamed in batches (no row cap)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: list[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([safe_cell(value) for value in values])
        return buffer.getvalue()

    yield line(["id", "name", "email", "status", "submitted_at", "updated_at", "cover_letter"])
    last_id = 0
    while True:
        rows = db.session.execute(
            select(Application, User.full_name, User.email)
            .outerjoin(User, User.id == Application.user_id)
            .where(Application.job_id == job.id, Application.id > last_id)
            .order_by(Application.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        for application, name, email in rows:
            yield line(
                [
                    application.id,
                    name or "",
                    email or "",
                    application.status.value,
                    application.submitted_at.isoformat(),
                    application.updated_at.isoformat(),
                    application.cover_letter or "",
                ]
            )
        last_id = rows[-1][0].id


# ---------------------------------------------------------------- retention


def purge_refused_applications(now: datetime) -> tuple[int, list[str | None]]:
    """Delete applications 3 months after a refusal or withdrawal (2 years with consent);
    flush only. Returns how many, and their CV files to remove once the caller committed."""
    short = now - REFUSED_RETENTION
    long = now - CONSENTED_RETENTION
    rejected = Application.status == ApplicationStatus.REJECTED
    applications = db.session.scalars(
        select(Application).where(
            or_(
                rejected & (Application.rejected_at < long),
                rejected
                & (Application.rejected_at < short)
                & Application.retention_consent.is_(False),
                # The consent covers a refusal; a withdrawn application goes after 3 months.
                (Application.status == ApplicationStatus.WITHDRAWN)
                & (Application.withdrawn_at < short),
            )
        )
    ).all()
    files = [application.cv_filename for application in applications]
    ids = [application.id for application in applications]
    if ids:
        db.session.execute(
            delete(ApplicationNote).where(ApplicationNote.application_id.in_(ids)),
            execution_options={"synchronize_session": False},
        )
        db.session.execute(
            delete(ApplicationStatusChange).where(ApplicationStatusChange.application_id.in_(ids)),
            execution_options={"synchronize_session": False},
        )
        for application in applications:
            db.session.delete(application)
    db.session.flush()
    logger.info("retention: %s refused or withdrawn application(s) deleted", len(ids))
    return len(ids), files


def purge_closed_job_cvs(now: datetime) -> list[str]:
    """Forget the CVs of jobs closed or expired more than 6 months ago (rows are kept); flush
    only. Returns the files to remove once the caller committed."""
    cutoff = now - CLOSED_JOB_CV_RETENTION
    ended_at = func.coalesce(Job.closed_at, Job.listed_until)
    applications = db.session.scalars(
        select(Application)
        .join(Job, Job.id == Application.job_id)
        .where(
            Job.status.in_(list(ENDED_JOB)),
            ended_at < cutoff,
            Application.cv_deleted_at.is_(None),
            Application.cv_filename.is_not(None),
        )
    ).all()
    files = []
    for application in applications:
        files.append(application.cv_filename)
        application.cv_filename = None
        application.cv_deleted_at = now
    db.session.flush()
    logger.info("retention: %s CV(s) of ended jobs removed", len(files))
    return files


def applications_of_member(user: User) -> list[Application]:
    """The member's applications, newest first, with their jobs and partners."""
    return list(
        db.session.scalars(
            select(Application)
            .where(Application.user_id == user.id)
            .options(joinedload(Application.job).joinedload(Job.partner))
            .order_by(Application.submitted_at.desc(), Application.id.desc())
        )
    )

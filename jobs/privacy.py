"""The personal data the job board holds about a person (registered by ``jobs.init_app``).

On deletion: applications stay as anonymous rows for the partner's pipeline, without CV or
cover letter; the ones still open are withdrawn, so the jobs retention
(``jobs/retention.py``) deletes them 3 months later like any withdrawal.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from jobs.application_services import WITHDRAWABLE, cv_folder, cv_path
from jobs.models import Application, ApplicationStatus, ApplicationStatusChange, Job
from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.privacy.registry import row_dict


def _applications(user: User) -> list[Application]:
    return list(
        db.session.scalars(
            select(Application).where(Application.user_id == user.id).order_by(Application.id)
        )
    )


def export_applications(user: User) -> list[dict[str, Any]]:
    """The person's applications with their history; the partner's private notes are theirs."""
    applications = _applications(user)
    ids = [application.id for application in applications]
    history: dict[int, list[dict[str, Any]]] = {}
    if ids:
        for change in db.session.scalars(
            select(ApplicationStatusChange)
            .where(ApplicationStatusChange.application_id.in_(ids))
            .order_by(ApplicationStatusChange.id)
        ):
            history.setdefault(change.application_id, []).append(
                row_dict(change, exclude={"actor_id"})
            )
    rows = []
    for application in applications:
        job: Job = application.job
        rows.append(
            row_dict(application, exclude={"cv_filename"})
            | {
                "job": {
                    "id": job.id,
                    "title_fr": job.title_fr,
                    "title_en": job.title_en,
                    "partner": job.partner.name,
                },
                "history": history.get(application.id, []),
            }
        )
    return rows


def application_files(user: User) -> list[tuple[str, Path]]:
    files = []
    for application in _applications(user):
        path = cv_path(application)
        if path is not None:
            original = Path(application.cv_original_name or "cv.pdf").name
            files.append((f"cvs/{application.id}-{original}", path))
    return files


def anonymise_applications(user: User, now: datetime) -> list[Path]:
    files: list[Path] = []
    for application in _applications(user):
        if application.cv_filename:
            files.append(cv_folder() / Path(application.cv_filename).name)
            application.cv_filename = None
            application.cv_deleted_at = application.cv_deleted_at or now
        application.cv_original_name = None
        application.cv_size = None
        application.cover_letter = None
        if application.status in WITHDRAWABLE:
            db.session.add(
                ApplicationStatusChange(
                    application_id=application.id,
                    from_status=application.status.value,
                    to_status=ApplicationStatus.WITHDRAWN.value,
                    actor_id=None,
                    created_at=now,
                )
            )
            application.status = ApplicationStatus.WITHDRAWN
            application.withdrawn_at = now
    db.session.flush()
    return files

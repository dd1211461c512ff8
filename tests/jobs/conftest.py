"""Shared job fixtures: postings in any status and applications with a CV on disk.

``create_job(partner, status="published", ...)`` returns a ``Job`` (with its languages and
search text, ``listed_until`` defaulting to 60 days after publication for live statuses);
``create_application(job, user, status="submitted", cv=True, ...)`` returns an
``Application`` whose CV (a small valid PDF) is written under ``UPLOAD_FOLDER/cvs``.
The partner fixtures (``create_partner``, ``add_partner_member``, ``api_headers``,
``count_queries``) come from the offers suite.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask

from jobs.models import (
    Application,
    ApplicationStatus,
    Contract,
    Job,
    JobLanguage,
    JobStatus,
    Remote,
)
from jobs.services import refresh_search_text
from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from partners.models import Partner
from tests.offers.conftest import (  # noqa: F401
    add_partner_member,
    api_headers,
    create_offer,
    create_partner,
)

LISTING_DAYS = 60
# The smallest well-formed PDF: header, one empty page, cross-reference table, trailer.
MINIMAL_PDF = (
    b"%PDF-1.4\n"
    b"1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n"
    b"0000000052 00000 n \n0000000101 00000 n \n"
    b"trailer<</Size 4/Root 1 0 R>>\nstartxref\n170\n%%EOF\n"
)
LIVE = {JobStatus.PUBLISHED, JobStatus.CLOSED, JobStatus.EXPIRED, JobStatus.ARCHIVED}


@pytest.fixture
def minimal_pdf() -> bytes:
    """The bytes of a small valid PDF."""
    return MINIMAL_PDF


@pytest.fixture
def create_job(app: Flask) -> Callable[..., Job]:
    """``create_job(partner, status="published", title_fr=..., ...)`` → the job."""

    def make(
        partner: Partner,
        *,
        status: str = "published",
        title_fr: str | None = "Ingénieur logiciel",
        title_en: str | None = "Software engineer",
        description_fr: str | None = "Rejoignez notre équipe à Lyon.",
        description_en: str | None = "Join our team in Lyon.",
        contract: str = "permanent",
        country: str = "FR",
        city: str | None = "Lyon",
        remote: str = "onsite",
        languages: Iterable[str] = ("fr",),
        salary_min: int | None = None,
        salary_max: int | None = None,
        currency: str | None = None,
        apply_deadline: date | None = None,
        listed_until: datetime | None = None,
        published_at: datetime | None = None,
        submitted_at: datetime | None = None,
        closed_at: datetime | None = None,
        expiry_reminder_sent_at: datetime | None = None,
        filled_through_network: bool | None = None,
        created_by: User | None = None,
    ) -> Job:
        status_enum = JobStatus(status)
        now = utcnow()
        live = status_enum in LIVE
        published = published_at or (now if live else None)
        with app.app_context():
            job = Job(
                partner_id=partner.id,
                status=status_enum,
                title_fr=title_fr,
                title_en=title_en,
                description_fr=description_fr,
                description_en=description_en,
                contract=Contract(contract),
                country=country,
                city=city,
                remote=Remote(remote),
                salary_min=salary_min,
                salary_max=salary_max,
                currency=currency,
                apply_deadline=apply_deadline,
                listed_until=listed_until
                or (published + timedelta(days=LISTING_DAYS) if published else None),
                expiry_reminder_sent_at=expiry_reminder_sent_at,
                filled_through_network=filled_through_network,
                closed_at=closed_at or (now if status_enum == JobStatus.CLOSED else None),
                created_by_id=created_by.id if created_by else None,
                submitted_at=submitted_at or (now if status_enum != JobStatus.DRAFT else None),
                published_at=published,
            )
            job.language_rows = [JobLanguage(language=code) for code in languages]
            refresh_search_text(job, partner_name=partner.name)
            db.session.add(job)
            db.session.commit()
            db.session.refresh(job)
            _ = job.languages
            return job

    return make


@pytest.fixture
def create_application(app: Flask) -> Callable[..., Application]:
    """``create_application(job, user, status="submitted", cv=True, ...)`` → the application."""

    def make(
        job: Job,
        user: User | None,
        *,
        status: str = "submitted",
        cv: bool = True,
        cover_letter: str | None = "I would love to join.",
        retention_consent: bool = False,
        submitted_at: datetime | None = None,
        rejected_at: datetime | None = None,
        withdrawn_at: datetime | None = None,
        updated_at: datetime | None = None,
    ) -> Application:
        status_enum = ApplicationStatus(status)
        now = utcnow()
        with app.app_context():
            application = Application(
                job_id=job.id,
                user_id=user.id if user else None,
                status=status_enum,
                cover_letter=cover_letter,
                retention_consent=retention_consent,
                submitted_at=submitted_at or now,
                rejected_at=rejected_at
                or (now if status_enum == ApplicationStatus.REJECTED else None),
                withdrawn_at=withdrawn_at
                or (now if status_enum == ApplicationStatus.WITHDRAWN else None),
            )
            if updated_at is not None:
                application.updated_at = updated_at
            if cv:
                folder = Path(app.config["UPLOAD_FOLDER"]) / "cvs"
                folder.mkdir(parents=True, exist_ok=True)
                filename = f"{uuid.uuid4().hex}.pdf"
                (folder / filename).write_bytes(MINIMAL_PDF)
                application.cv_filename = filename
                application.cv_original_name = "cv.pdf"
                application.cv_size = len(MINIMAL_PDF)
            db.session.add(application)
            db.session.commit()
            db.session.refresh(application)
            return application

    return make

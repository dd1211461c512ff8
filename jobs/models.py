"""Job postings, applications with their CVs, notes and histories."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.database import UTCDateTime, utcnow
from marketplace.extensions import db
from marketplace.i18n import localized
from partners.models import Partner


class JobStatus(enum.StrEnum):
    """The posting lifecycle: draft → submitted → published → closed / expired / archived."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    CHANGES_REQUESTED = "changes_requested"
    REJECTED = "rejected"
    PUBLISHED = "published"
    CLOSED = "closed"
    EXPIRED = "expired"
    ARCHIVED = "archived"


class Contract(enum.StrEnum):
    PERMANENT = "permanent"
    FIXED_TERM = "fixed_term"
    INTERNSHIP = "internship"
    APPRENTICESHIP = "apprenticeship"
    VIE = "vie"
    FREELANCE = "freelance"
    VOLUNTEER = "volunteer"


class Remote(enum.StrEnum):
    ONSITE = "onsite"
    HYBRID = "hybrid"
    REMOTE = "remote"


class ApplicationStatus(enum.StrEnum):
    """Where an application stands in the partner's pipeline."""

    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    INTERVIEW = "interview"
    OFFER = "offer"
    HIRED = "hired"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


def _enum(kind: type[enum.Enum]) -> Enum:
    return Enum(kind, native_enum=False, length=20, validate_strings=True)


class Job(db.Model):
    """A partner's job offer, in French and/or English."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(
            "salary_min IS NULL OR salary_max IS NULL OR salary_min <= salary_max",
            name="salary_range",
        ),
        Index("ix_jobs_status_published_at", "status", "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus), default=JobStatus.DRAFT)
    title_fr: Mapped[str | None] = mapped_column(String(160))
    title_en: Mapped[str | None] = mapped_column(String(160))
    description_fr: Mapped[str | None] = mapped_column(Text)
    description_en: Mapped[str | None] = mapped_column(Text)
    contract: Mapped[Contract] = mapped_column(_enum(Contract))
    country: Mapped[str] = mapped_column(String(2), index=True)
    city: Mapped[str | None] = mapped_column(String(120))
    remote: Mapped[Remote] = mapped_column(_enum(Remote), default=Remote.ONSITE)
    salary_min: Mapped[int | None]
    salary_max: Mapped[int | None]
    currency: Mapped[str | None] = mapped_column(String(3))
    apply_deadline: Mapped[date | None]
    # The listing runs 60 days from publication unless reposted; a reminder 5 days before.
    listed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    expiry_reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    filled_through_network: Mapped[bool | None]
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    moderator_message: Mapped[str | None] = mapped_column(Text)
    # Accent-folded text of each language, maintained by the services, indexed for search.
    search_fr: Mapped[str] = mapped_column(Text, default="")
    search_en: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    partner: Mapped[Partner] = relationship()
    language_rows: Mapped[list[JobLanguage]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="JobLanguage.language"
    )

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.status}>"

    @property
    def title(self) -> str:
        return localized(self, "title")

    @property
    def description(self) -> str:
        return localized(self, "description")

    @property
    def languages(self) -> list[str]:
        return [row.language for row in self.language_rows]


class JobLanguage(db.Model):
    """A language the job asks for (ISO 639-1)."""

    __tablename__ = "job_languages"
    __table_args__ = (UniqueConstraint("job_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(2), index=True)

    def __repr__(self) -> str:
        return f"<JobLanguage {self.job_id} {self.language}>"


class JobStatusChange(db.Model):
    """One step of a posting's history, shown to the partner."""

    __tablename__ = "job_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<JobStatusChange {self.job_id} {self.from_status}->{self.to_status}>"


class Application(db.Model):
    """A member's application to a job: one per member and job (a unique constraint)."""

    __tablename__ = "applications"
    __table_args__ = (
        UniqueConstraint("job_id", "user_id"),
        Index("ix_applications_job_status", "job_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[ApplicationStatus] = mapped_column(
        _enum(ApplicationStatus), default=ApplicationStatus.SUBMITTED
    )
    cover_letter: Mapped[str | None] = mapped_column(Text)
    cv_filename: Mapped[str | None] = mapped_column(String(80))
    cv_original_name: Mapped[str | None] = mapped_column(String(255))
    cv_size: Mapped[int | None]
    # The candidate's consent to keep the application 2 years after a refusal (else 3 months).
    retention_consent: Mapped[bool] = mapped_column(default=False)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cv_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    job: Mapped[Job] = relationship()

    def __repr__(self) -> str:
        return f"<Application {self.id} job={self.job_id} {self.status}>"


class ApplicationStatusChange(db.Model):
    """A status change of an application, with its date, shown to the candidate."""

    __tablename__ = "application_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<ApplicationStatusChange {self.application_id} -> {self.to_status}>"


class ApplicationNote(db.Model):
    """A private note of the partner's team on an application (never shown to the candidate)."""

    __tablename__ = "application_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<ApplicationNote {self.id} application={self.application_id}>"

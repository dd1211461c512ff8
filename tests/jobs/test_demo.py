"""``flask seed demo``: the job board's demo postings and applications, created once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from jobs.demo import demo_cv
from jobs.models import (
    Application,
    ApplicationNote,
    ApplicationStatus,
    ApplicationStatusChange,
    Contract,
    Job,
    JobStatus,
    Remote,
)
from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.seed import DEMO_STEPS
from partners.models import Partner


def seed(app):
    result = app.test_cli_runner().invoke(args=["seed", "demo"])
    assert result.exit_code == 0, result.output
    return result


def row_counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables
        }


def test_jobs_steps_run_after_the_partners(app):
    names = [step.name for step in DEMO_STEPS]
    assert names.index("partners") < names.index("jobs") < names.index("applications")


def test_demo_cv_is_a_pdf_the_upload_check_accepts():
    data = demo_cv("Chloé Nguyen (test)")
    assert data.startswith(b"%PDF-1.4\n")
    assert data.rstrip().endswith(b"%%EOF")
    start = int(data.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert data[start:].startswith(b"xref\n")


def test_seed_demo_creates_jobs_of_every_kind(app):
    result = seed(app)
    assert "jobs: 9 created" in result.output
    assert "applications: 7 created" in result.output

    with app.app_context():
        jobs = list(db.session.scalars(select(Job)))
        partners = {p.id: p.name for p in db.session.scalars(select(Partner))}
        assert {partners[job.partner_id] for job in jobs} == {
            "Librairie Voltaire",
            "Air Horizon",
            "CodeCamp Lisboa",
        }
        statuses = [job.status for job in jobs]
        for status in (JobStatus.CLOSED, JobStatus.EXPIRED, JobStatus.DRAFT, JobStatus.SUBMITTED):
            assert statuses.count(status) == 1, status
        assert statuses.count(JobStatus.PUBLISHED) == 5
        closed = next(job for job in jobs if job.status == JobStatus.CLOSED)
        assert closed.filled_through_network is True
        assert closed.closed_at is not None
        submitted = next(job for job in jobs if job.status == JobStatus.SUBMITTED)
        assert submitted.submitted_at is not None
        published = [job for job in jobs if job.status == JobStatus.PUBLISHED]
        assert all(job.published_at and job.listed_until for job in published)
        assert {Contract.PERMANENT, Contract.INTERNSHIP, Contract.VIE, Contract.FREELANCE} <= {
            job.contract for job in jobs
        }
        assert len({job.country for job in jobs}) >= 4
        assert {job.remote for job in jobs} == set(Remote)
        assert len({lang for job in jobs for lang in job.languages}) >= 4
        french_only = [job for job in jobs if job.title_fr and not job.title_en]
        assert len(french_only) == 1
        assert all(job.title_en and job.title_fr for job in jobs if job not in french_only)
        assert all(job.search_fr and job.search_en for job in jobs)


def test_seed_demo_applications_with_cvs_at_several_stages(app):
    seed(app)

    with app.app_context():
        applications = list(db.session.scalars(select(Application)))
        assert len(applications) == 7
        folder = Path(app.config["UPLOAD_FOLDER"]) / "cvs"
        for application in applications:
            assert application.job.status == JobStatus.PUBLISHED
            assert db.session.get(User, application.user_id).is_verified_alumnus
            path = folder / application.cv_filename
            assert path.is_file()
            assert path.read_bytes().startswith(b"%PDF-1.4")
            assert application.cv_size == path.stat().st_size
            assert application.cv_original_name.endswith(".pdf")
        statuses = {application.status for application in applications}
        assert {
            ApplicationStatus.IN_REVIEW,
            ApplicationStatus.INTERVIEW,
            ApplicationStatus.REJECTED,
        } <= statuses
        rejected = next(a for a in applications if a.status == ApplicationStatus.REJECTED)
        assert rejected.rejected_at is not None
        moved = [a for a in applications if a.status != ApplicationStatus.SUBMITTED]
        for application in moved:
            history = db.session.scalars(
                select(ApplicationStatusChange.to_status)
                .where(ApplicationStatusChange.application_id == application.id)
                .order_by(ApplicationStatusChange.id)
            ).all()
            assert history == ["submitted", application.status.value]
        notes = list(db.session.scalars(select(ApplicationNote)))
        assert len(notes) == 1
        assert notes[0].body


def test_seed_demo_twice_creates_no_job_nor_application(app):
    seed(app)
    first = row_counts(app)
    assert first["jobs"] == 9
    assert first["applications"] == 7
    files = sorted((Path(app.config["UPLOAD_FOLDER"]) / "cvs").iterdir())

    second = seed(app)

    assert "jobs: 0 created" in second.output
    assert "applications: 0 created" in second.output
    assert row_counts(app) == first
    assert sorted((Path(app.config["UPLOAD_FOLDER"]) / "cvs").iterdir()) == files

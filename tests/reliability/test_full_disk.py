"""The disk fills up during an upload: the kernel refuses the write, the user gets an error
page, and neither a row nor a file (not even a partial one) is left behind.

A real full disk is played with ``RLIMIT_FSIZE``: for the duration of the request, no file
of this process may grow past 256 KB, so writing the 400 KB upload fails in the middle with
``EFBIG`` (``SIGXFSZ`` ignored, as a server would), the way ``ENOSPC`` does on a full disk.
The upload stays under werkzeug's 500 KB spool, so the request itself is parsed in memory;
the database is not written before the file (SQLite's files are not extended meanwhile).
"""

from __future__ import annotations

import io
import resource
import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, select

from jobs.models import Application
from marketplace.accounts.models import User
from marketplace.extensions import db
from tests.jobs import conftest as job_fixtures
from tests.jobs.conftest import MINIMAL_PDF
from tests.offers import conftest as offer_fixtures

# Fixtures of the offers and jobs suites.
create_partner = offer_fixtures.create_partner
create_job = job_fixtures.create_job

LIMIT = 256 * 1024
UPLOAD = 400 * 1024


@contextmanager
def file_size_limit(limit: int = LIMIT) -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()} if folder.exists() else set()


def test_cv_upload_on_a_full_disk(app, client, login, create_user, create_partner, create_job):
    partner = create_partner(name=f"Acme {uuid.uuid4().hex[:6]}")
    job = create_job(partner)
    candidate = create_user(alumni=True, status="verified")
    login(client, candidate)
    uploads = Path(app.config["UPLOAD_FOLDER"])
    before = files_under(uploads)
    cv = MINIMAL_PDF + b"%" + b"x" * (UPLOAD - len(MINIMAL_PDF) - 1)
    with file_size_limit():
        response = client.post(
            f"/jobs/applications/apply/{job.id}",
            data={"cv": (io.BytesIO(cv), "cv.pdf"), "cover_letter": "Hello"},
            content_type="multipart/form-data",
        )
    # The storage error page (507), in HTML, saying nothing was sent.
    assert response.status_code == 507
    assert response.mimetype == "text/html"
    assert files_under(uploads) == before
    with app.app_context():
        count = db.session.scalar(
            select(func.count(Application.id)).where(Application.job_id == job.id)
        )
    assert count == 0
    # Space again: the same upload goes through.
    again = client.post(
        f"/jobs/applications/apply/{job.id}",
        data={"cv": (io.BytesIO(cv), "cv.pdf"), "cover_letter": "Hello"},
        content_type="multipart/form-data",
    )
    assert again.status_code == 302
    assert len(files_under(uploads) - before) == 1


def test_registration_evidence_on_a_full_disk(app, client, create_school):
    school = create_school()
    email = f"full-disk-{uuid.uuid4().hex[:8]}@example.org"
    uploads = Path(app.config["UPLOAD_FOLDER"])
    before = files_under(uploads)
    evidence = b"\x89PNG\r\n\x1a\n" + b"\0" * (UPLOAD - 8)
    form = {
        "full_name": "Camille Martin",
        "email": email,
        "password": "a long enough passphrase 2026",
        "school": school.name,
        "graduation_year": "2015",
        "country": "PT",
        "city": "Lisbonne",
        "evidence": (io.BytesIO(evidence), "diploma.png"),
    }
    with file_size_limit():
        response = client.post("/accounts/register", data=form, content_type="multipart/form-data")
    assert response.status_code >= 500
    assert response.mimetype == "text/html"
    assert b"Traceback" not in response.data
    assert files_under(uploads) == before
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == email)) is None

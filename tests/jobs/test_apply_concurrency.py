"""One member applying twice at once gets one application: real parallel requests, real commits.

The app runs under gunicorn (2 processes x 8 threads) on a database of its own, like
tests/offers/test_concurrency.py (whose server fixture and member seeding are reused here);
the requests go out together from a thread pool, then the database and the CV folder are read.
"""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jobs.models import Application, ApplicationStatusChange, Contract, Job, JobStatus
from marketplace.database import utcnow
from partners.models import Partner, PartnerStatus
from tests.jobs.conftest import MINIMAL_PDF
from tests.live_server import Server
from tests.offers import test_concurrency as harness
from tests.offers.test_concurrency import REQUEST_TIMEOUT, seed_members

# The module-scoped gunicorn server on its own migrated database (one per test module).
server = harness.server


@pytest.fixture(autouse=True)
def _transaction() -> None:
    """The rolled-back transaction of tests/conftest.py would hide the races: not here."""


def seed_job(server: Server) -> int:
    """A published job of a fresh approved partner."""
    suffix = uuid.uuid4().hex[:8]
    with Session(server.engine) as session:
        partner = Partner(
            name=f"Partner {suffix}",
            slug=f"partner-{suffix}",
            country="FR",
            contact_name="Olivia Owner",
            contact_email=f"contact-{suffix}@example.com",
            status=PartnerStatus.APPROVED,
        )
        session.add(partner)
        session.flush()
        job = Job(
            partner_id=partner.id,
            status=JobStatus.PUBLISHED,
            title_en="Concurrent job",
            contract=Contract.PERMANENT,
            country="FR",
            published_at=utcnow(),
            listed_until=utcnow() + timedelta(days=60),
        )
        session.add(job)
        session.commit()
        return job.id


def cv_folder(server: Server) -> Path:
    return server.log.parent / "uploads" / "cvs"


def fire(server: Server, job_id: int, token: str, times: int) -> list[requests.Response]:
    url = f"{server.url}/api/v1/jobs/{job_id}/applications"

    def call(_index: int) -> requests.Response:
        return requests.post(
            url,
            headers={"Authorization": f"Bearer {token}"},
            files={"cv": ("cv.pdf", MINIMAL_PDF, "application/pdf")},
            data={"cover_letter": "Hello"},
            timeout=REQUEST_TIMEOUT,
        )

    with ThreadPoolExecutor(max_workers=times) as pool:
        return list(pool.map(call, range(times)))


@pytest.mark.parametrize("times", [2, 12])
def test_one_member_applying_at_once_gets_one_application(server: Server, times: int):
    job_id = seed_job(server)
    [token] = seed_members(server, 1)
    before = set(cv_folder(server).glob("*.pdf")) if cv_folder(server).exists() else set()
    responses = fire(server, job_id, token, times)
    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 1, 409: times - 1}, (statuses, server.log.read_text()[-3000:])
    reasons = {r.json()["errors"]["reason"] for r in responses if r.status_code == 409}
    assert reasons == {"already_applied"}
    with Session(server.engine) as session:
        [application] = session.scalars(
            select(Application).where(Application.job_id == job_id)
        ).all()
        assert (
            session.scalar(
                select(func.count(ApplicationStatusChange.id)).where(
                    ApplicationStatusChange.application_id == application.id
                )
            )
            == 1
        )
    # The losers' CVs were removed: exactly the winner's file is new on disk.
    new_files = set(cv_folder(server).glob("*.pdf")) - before
    assert [path.name for path in new_files] == [application.cv_filename]

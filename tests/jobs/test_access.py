"""One loader per resource: ``get_job_or_404`` and ``get_application_or_404``."""

from __future__ import annotations

import pytest
from werkzeug.exceptions import NotFound

from jobs.access import get_application_or_404, get_job_or_404
from marketplace.extensions import db
from partners.models import Partner


def test_a_partner_loads_its_own_job_and_not_another_partners(app, create_partner, create_job):
    mine, theirs = create_partner(), create_partner()
    job = create_job(theirs, status="draft")
    with app.test_request_context():
        assert get_job_or_404(job.id, partner=db.session.get(Partner, theirs.id)).id == job.id
        with pytest.raises(NotFound):
            get_job_or_404(job.id, partner=db.session.get(Partner, mine.id))


@pytest.mark.parametrize(
    ("status", "public"),
    [("published", True), ("closed", True), ("draft", False), ("submitted", False)],
)
def test_the_public_loads_published_or_ended_jobs_only(
    app, create_partner, create_job, status, public
):
    job = create_job(create_partner(), status=status)
    with app.test_request_context():
        assert get_job_or_404(job.id).id == job.id
        if public:
            assert get_job_or_404(job.id, published=True).id == job.id
        else:
            with pytest.raises(NotFound):
                get_job_or_404(job.id, published=True)


def test_an_application_is_loaded_by_its_applicant_or_the_jobs_partner_only(
    app, create_partner, create_job, create_application, create_user
):
    owner, other = create_partner(), create_partner()
    applicant, stranger = create_user(), create_user()
    application = create_application(create_job(owner), applicant)
    with app.test_request_context():
        assert get_application_or_404(application.id, applicant=applicant).id == application.id
        assert (
            get_application_or_404(application.id, partner=db.session.get(Partner, owner.id)).id
            == application.id
        )
        for reader in ({"applicant": stranger}, {"partner": db.session.get(Partner, other.id)}):
            with pytest.raises(NotFound) as caught:
                get_application_or_404(application.id, **reader)
            assert caught.value.data["message"] == "No such application."

"""The job review queue and decisions: audited, e-mailed to the partner's team."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from jobs.models import Job, JobStatus
from marketplace.audit import AuditLog
from marketplace.database import utcnow
from marketplace.extensions import db

EN = {"Accept-Language": "en"}


@pytest.fixture
def moderator(create_user):
    return create_user(roles=("moderator",), locale="en")


def test_queue_oldest_first_in_constant_queries(
    app, client, login, moderator, create_partner, create_job, count_queries
):
    partner = create_partner()
    now = utcnow()
    newer = create_job(partner, status="submitted", title_en="Newer", submitted_at=now)
    older = create_job(
        partner, status="submitted", title_en="Older", submitted_at=now - timedelta(days=1)
    )
    draft = create_job(partner, status="draft")
    login(client, moderator)
    page = client.get("/jobs/moderation/", headers=EN).data.decode()
    assert page.index(f"queued-{older.id}") < page.index(f"queued-{newer.id}")
    assert f"queued-{draft.id}" not in page
    with count_queries() as few:
        client.get("/jobs/moderation/")
    other = create_partner()
    for _index in range(10):
        create_job(other, status="submitted")
    with count_queries() as many:
        client.get("/jobs/moderation/")
    assert len(many) == len(few)


@pytest.mark.parametrize(
    ("action", "data", "status", "field"),
    [
        ("approve", {}, JobStatus.PUBLISHED, None),
        ("reject", {"reason": "Not a real job"}, JobStatus.REJECTED, "refusal_reason"),
        (
            "request-changes",
            {"message": "Add a salary"},
            JobStatus.CHANGES_REQUESTED,
            "moderator_message",
        ),
    ],
)
def test_decisions_are_audited_and_mailed(
    app,
    client,
    login,
    moderator,
    create_partner,
    add_partner_member,
    create_job,
    outbox,
    action,
    data,
    status,
    field,
):
    partner = create_partner()
    manager = add_partner_member(partner)
    job = create_job(partner, status="submitted")
    login(client, moderator)
    assert client.get(f"/jobs/moderation/{job.id}").status_code == 200
    assert client.post(f"/jobs/moderation/{job.id}/{action}", data=data).status_code == 302
    with app.app_context():
        row = db.session.get(Job, job.id)
        assert row.status == status
        if field:
            assert getattr(row, field) == next(iter(data.values()))
        else:
            assert row.listed_until is not None
        entry = db.session.scalar(select(AuditLog).where(AuditLog.object_type == "job"))
        assert entry.object_id == job.id
        assert entry.actor_id == moderator.id
    for person in (partner.owner, manager):
        assert len(outbox(to=person.email)) == 1


def test_reject_needs_a_reason(app, client, login, moderator, create_partner, create_job):
    job = create_job(create_partner(), status="submitted")
    login(client, moderator)
    client.post(f"/jobs/moderation/{job.id}/reject", data={"reason": ""})
    with app.app_context():
        assert db.session.get(Job, job.id).status == JobStatus.SUBMITTED


def test_partners_and_members_cannot_moderate(client, login, create_partner, create_job):
    partner = create_partner()
    job = create_job(partner, status="submitted")
    login(client, partner.owner)
    assert client.get("/jobs/moderation/").status_code == 403
    assert client.post(f"/jobs/moderation/{job.id}/approve").status_code == 403

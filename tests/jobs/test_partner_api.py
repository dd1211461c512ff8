"""Partner jobs API and job moderation API."""

from __future__ import annotations

from sqlalchemy import select

from jobs.models import Job, JobStatus
from marketplace.audit import AuditLog
from marketplace.extensions import db


def test_create_patch_submit_and_moderate(
    app, client, create_partner, create_user, api_headers, outbox
):
    partner = create_partner(name="Acme")
    headers = api_headers(partner.owner)
    created = client.post(
        "/api/v1/partner/jobs",
        json={
            "title": "Ingénieure",
            "description": "Poste à Lille.",
            "contract": "permanent",
            "country": "FR",
            "languages": ["fr", "en"],
            "status": "published",
            "partner": "Someone else",
            "partner_id": 999,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.json
    body = created.json
    assert body["status"] == "draft"
    assert body["partner"] == "Acme"
    assert body["title_fr"] == "Ingénieure"
    assert body["description_fr"] == "Poste à Lille."
    job_id = body["id"]
    patched = client.patch(
        f"/api/v1/partner/jobs/{job_id}", json={"city": "Lille"}, headers=headers
    )
    assert patched.status_code == 200
    assert patched.json["city"] == "Lille"
    submitted = client.post(f"/api/v1/partner/jobs/{job_id}/submit", headers=headers)
    assert submitted.json["status"] == "submitted"
    moderator = api_headers(create_user(roles=("moderator",)))
    assert (
        client.post(
            f"/api/v1/moderation/jobs/{job_id}/reject", json={}, headers=moderator
        ).status_code
        == 422
    )
    changes = client.post(
        f"/api/v1/moderation/jobs/{job_id}/request-changes",
        json={"message": "Salary?"},
        headers=moderator,
    )
    assert changes.status_code == 200
    assert changes.json["status"] == "changes_requested"
    client.patch(
        f"/api/v1/partner/jobs/{job_id}",
        json={"salary_min": 40000, "currency": "EUR"},
        headers=headers,
    )
    client.post(f"/api/v1/partner/jobs/{job_id}/submit", headers=headers)
    approved = client.post(f"/api/v1/moderation/jobs/{job_id}/approve", headers=moderator)
    assert approved.status_code == 200
    assert approved.json["status"] == "published"
    assert approved.json["listed_until"]
    with app.app_context():
        actions = list(
            db.session.scalars(
                select(AuditLog.action).where(
                    AuditLog.object_id == job_id, AuditLog.object_type == "job"
                )
            )
        )
        assert actions == ["job.changes_requested", "job.approved"]
    assert len(outbox(to=partner.owner.email)) == 2


def test_invalid_input_and_state(client, create_partner, create_job, api_headers):
    partner = create_partner()
    headers = api_headers(partner.owner)
    assert (
        client.post(
            "/api/v1/partner/jobs", json={"contract": "nope", "country": "FR"}, headers=headers
        ).status_code
        == 422
    )
    assert (
        client.post("/api/v1/partner/jobs", json={"country": "FR"}, headers=headers).status_code
        == 422
    )
    job = create_job(partner, status="closed")
    assert client.post(f"/api/v1/partner/jobs/{job.id}/submit", headers=headers).status_code == 409


def test_pagination_is_capped(client, create_partner, create_job, api_headers):
    partner = create_partner()
    for _index in range(3):
        create_job(partner)
    headers = api_headers(partner.owner)
    page = client.get("/api/v1/partner/jobs?page_size=2", headers=headers)
    assert page.status_code == 200
    assert len(page.json) == 2
    assert client.get("/api/v1/partner/jobs?page_size=101", headers=headers).status_code == 422


def test_another_partners_job_is_404_on_every_route(
    app, client, create_partner, create_job, api_headers
):
    job = create_job(create_partner(), status="draft")
    headers = api_headers(create_partner().owner)
    assert client.get(f"/api/v1/partner/jobs/{job.id}", headers=headers).status_code == 404
    assert (
        client.patch(
            f"/api/v1/partner/jobs/{job.id}", json={"city": "X"}, headers=headers
        ).status_code
        == 404
    )
    assert client.post(f"/api/v1/partner/jobs/{job.id}/submit", headers=headers).status_code == 404
    assert client.get("/api/v1/partner/jobs", headers=headers).json == []
    with app.app_context():
        assert db.session.get(Job, job.id).status == JobStatus.DRAFT
        assert db.session.get(Job, job.id).city == "Lyon"


def test_anonymous_and_non_moderators_are_refused(client, create_partner, create_job, api_headers):
    partner = create_partner()
    job = create_job(partner, status="submitted")
    assert client.get("/api/v1/partner/jobs").status_code == 401
    headers = api_headers(partner.owner)
    assert (
        client.post(f"/api/v1/moderation/jobs/{job.id}/approve", headers=headers).status_code == 403
    )

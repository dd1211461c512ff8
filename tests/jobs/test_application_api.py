"""The applications API: apply, own applications, withdraw, the partner's pipeline."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from jobs.models import Application, ApplicationNote, ApplicationStatus
from marketplace.extensions import db


@pytest.fixture
def setup(create_partner, add_partner_member, create_job, create_user):
    partner = create_partner(name="Acme")
    manager = add_partner_member(partner)
    job = create_job(partner)
    candidate = create_user(full_name="Ada Lovelace", alumni=True, status="verified", locale="en")
    return partner, manager, job, candidate


def form(pdf: bytes, name: str = "cv.pdf", **extra) -> dict:
    return {"cv": (io.BytesIO(pdf), name), "cover_letter": "Dear Acme", **extra}


def count(app, job_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count(Application.id)).where(Application.job_id == job_id)
        )


def cv_files(app) -> list[Path]:
    folder = Path(app.config["UPLOAD_FOLDER"]) / "cvs"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_apply_201_then_409(app, client, setup, api_headers, outbox, minimal_pdf):
    _partner, manager, job, candidate = setup
    headers = api_headers(candidate)
    url = f"/api/v1/jobs/{job.id}/applications"
    response = client.post(url, data=form(minimal_pdf, retention_consent="true"), headers=headers)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["job_id"] == job.id
    assert body["status"] == "submitted"
    assert body["retention_consent"] is True
    assert body["cv_available"] is True
    assert [h["to_status"] for h in body["history"]] == ["submitted"]
    assert [m.subject for m in outbox(to=candidate.email)] == ["Your application was sent"]
    assert len(outbox(to=manager.email)) == 1
    files = cv_files(app)
    again = client.post(url, data=form(minimal_pdf), headers=headers)
    assert again.status_code == 409
    assert again.json["errors"]["reason"] == "already_applied"
    assert count(app, job.id) == 1
    assert cv_files(app) == files


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"<html><body>hi</body></html>", "cv.pdf"),
        (b"MZ\x90\x00" + b"\x00" * 60, "cv.pdf"),
        (b"%PDF-1.4\n", "cv.exe"),
        (b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024), "cv.pdf"),
    ],
)
def test_bad_file_422(app, client, setup, api_headers, data, name):
    _partner, _manager, job, candidate = setup
    files = cv_files(app)
    fields = {"cv": FileStorage(io.BytesIO(data), filename=name), "cover_letter": "x"}
    boundary, body = encode_multipart(fields)
    response = client.post(
        f"/api/v1/jobs/{job.id}/applications",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=api_headers(candidate),
    )
    assert response.status_code == 422
    assert response.json["errors"]["reason"] == "invalid_cv"
    assert count(app, job.id) == 0
    assert cv_files(app) == files


def test_missing_cv_422(app, client, setup, api_headers):
    _partner, _manager, job, candidate = setup
    response = client.post(
        f"/api/v1/jobs/{job.id}/applications",
        data={"cover_letter": "x"},
        headers=api_headers(candidate),
    )
    assert response.status_code == 422
    assert count(app, job.id) == 0


def test_body_over_6_mb_413_json(app, client, setup, api_headers):
    _partner, _manager, job, candidate = setup
    fields = {"cv": FileStorage(io.BytesIO(b"%PDF-" + b"0" * (6 * 1024 * 1024)), filename="a.pdf")}
    boundary, body = encode_multipart(fields)
    response = client.post(
        f"/api/v1/jobs/{job.id}/applications",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=api_headers(candidate),
    )
    assert response.status_code == 413
    assert "5 MB" in response.json["message"]
    assert count(app, job.id) == 0


@pytest.mark.parametrize("status", ["closed", "expired"])
def test_closed_job_410(app, client, setup, api_headers, create_job, status, minimal_pdf):
    partner, _manager, _job, candidate = setup
    job = create_job(partner, status=status)
    response = client.post(
        f"/api/v1/jobs/{job.id}/applications",
        data=form(minimal_pdf),
        headers=api_headers(candidate),
    )
    assert response.status_code == 410
    assert response.json["errors"]["reason"] == "job_closed"
    assert count(app, job.id) == 0


def test_who_may_apply(app, client, setup, api_headers, create_user, create_job, minimal_pdf):
    partner, _manager, job, candidate = setup
    url = f"/api/v1/jobs/{job.id}/applications"
    assert client.post(url, data=form(minimal_pdf)).status_code == 401
    pending = create_user(alumni=True, status="pending")
    assert client.post(url, data=form(minimal_pdf), headers=api_headers(pending)).status_code == 403
    draft = create_job(partner, status="draft")
    missing = client.post(
        f"/api/v1/jobs/{draft.id}/applications",
        data=form(minimal_pdf),
        headers=api_headers(candidate),
    )
    assert missing.status_code == 404
    assert count(app, job.id) == 0


def test_session_cookie_cannot_apply(app, client, setup, login, minimal_pdf):
    """Writes need a bearer token: the API is CSRF-exempt, so a cookie alone is not enough."""
    _partner, _manager, job, candidate = setup
    login(client, candidate)
    response = client.post(f"/api/v1/jobs/{job.id}/applications", data=form(minimal_pdf))
    assert response.status_code == 401
    assert count(app, job.id) == 0


def test_my_applications_are_mine_only(client, setup, api_headers, create_user, create_application):
    _partner, _manager, job, candidate = setup
    mine = create_application(job, candidate)
    other = create_user(alumni=True, status="verified")
    theirs = create_application(job, other)
    response = client.get("/api/v1/me/applications", headers=api_headers(candidate))
    assert response.status_code == 200
    assert [item["id"] for item in response.json] == [mine.id]
    assert response.json[0]["partner"] == "Acme"
    assert "X-Pagination" in response.headers
    other_view = client.get("/api/v1/me/applications", headers=api_headers(other))
    assert [item["id"] for item in other_view.json] == [theirs.id]
    assert client.get("/api/v1/me/applications").status_code == 401


def test_withdraw(app, client, setup, api_headers, create_user, create_application, outbox):
    _partner, manager, job, candidate = setup
    application = create_application(job, candidate)
    other = create_user(alumni=True, status="verified")
    url = f"/api/v1/me/applications/{application.id}/withdraw"
    assert client.post(url, headers=api_headers(other)).status_code == 404
    response = client.post(url, headers=api_headers(candidate))
    assert response.status_code == 200
    assert response.json["status"] == "withdrawn"
    assert response.json["history"][-1]["to_status"] == "withdrawn"
    assert len(outbox(to=manager.email)) == 1
    again = client.post(url, headers=api_headers(candidate))
    assert again.status_code == 409


def test_partner_lists_job_applications(
    client, setup, api_headers, create_application, create_user, create_partner
):
    _partner, manager, job, candidate = setup
    application = create_application(job, candidate)
    create_application(
        job, create_user(full_name="Zed", alumni=True, status="verified"), status="interview"
    )
    response = client.get(
        f"/api/v1/partner/jobs/{job.id}/applications", headers=api_headers(manager)
    )
    assert response.status_code == 200
    assert len(response.json) == 2
    filtered = client.get(
        f"/api/v1/partner/jobs/{job.id}/applications?status=submitted&q=ada",
        headers=api_headers(manager),
    )
    [item] = filtered.json
    assert item["id"] == application.id
    assert item["candidate"] == {"name": "Ada Lovelace", "email": candidate.email}
    assert item["cv_url"] == f"/api/v1/partner/applications/{application.id}/cv"
    rival = create_partner(name="Rival")
    assert (
        client.get(
            f"/api/v1/partner/jobs/{job.id}/applications", headers=api_headers(rival.owner)
        ).status_code
        == 404
    )
    assert client.get(f"/api/v1/partner/jobs/{job.id}/applications").status_code == 401


def test_partner_patch_status_and_note(
    app, client, setup, api_headers, create_application, create_partner, outbox
):
    _partner, manager, job, candidate = setup
    application = create_application(job, candidate)
    url = f"/api/v1/partner/applications/{application.id}"
    rival = create_partner(name="Rival")
    denied = client.patch(url, json={"status": "hired"}, headers=api_headers(rival.owner))
    assert denied.status_code == 404
    response = client.patch(
        url,
        json={"status": "interview", "note": "Call Monday", "partner_id": 1},
        headers=api_headers(manager),
    )
    assert response.status_code == 200
    assert response.json["status"] == "interview"
    assert [n["body"] for n in response.json["notes"]] == ["Call Monday"]
    with app.app_context():
        assert db.session.get(Application, application.id).status == ApplicationStatus.INTERVIEW
        assert db.session.scalar(select(ApplicationNote.body)) == "Call Monday"
    [mail] = outbox(to=candidate.email)
    assert mail.subject == "News about your application"
    bad = client.patch(url, json={"status": "withdrawn"}, headers=api_headers(manager))
    assert bad.status_code == 422


def test_partner_downloads_cv(
    client, setup, api_headers, create_application, create_partner, minimal_pdf
):
    _partner, manager, job, candidate = setup
    application = create_application(job, candidate)
    url = f"/api/v1/partner/applications/{application.id}/cv"
    response = client.get(url, headers=api_headers(manager))
    assert response.status_code == 200
    assert response.data == minimal_pdf
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox"
    response.close()
    rival = create_partner(name="Rival")
    assert client.get(url, headers=api_headers(rival.owner)).status_code == 404
    # The candidate is no partner: the pipeline API is closed to them.
    assert client.get(url, headers=api_headers(candidate)).status_code == 403

"""Applying to a job from the pages, "my applications", withdrawal, the candidate's CV."""

from __future__ import annotations

import io
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from jobs.models import Application, ApplicationStatus, ApplicationStatusChange
from marketplace.database import utcnow
from marketplace.extensions import db
from tests.jobs.conftest import MINIMAL_PDF


@pytest.fixture
def setup(create_partner, add_partner_member, create_job, create_user):
    partner = create_partner(name="Acme")
    manager = add_partner_member(partner)
    job = create_job(partner)
    candidate = create_user(
        "candidate@example.org",
        alumni=True,
        status="verified",
        locale="en",
        full_name="Ada Lovelace",
    )
    return partner, manager, job, candidate


def cv_files(app) -> list[Path]:
    folder = Path(app.config["UPLOAD_FOLDER"]) / "cvs"
    return sorted(folder.iterdir()) if folder.exists() else []


def count_applications(app, job_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count(Application.id)).where(Application.job_id == job_id)
        )


def apply_form(data: bytes, name: str = "cv.pdf", **extra) -> dict:
    return {"cv": (io.BytesIO(data), name), "cover_letter": "Hello!", **extra}


def post_large(client, url: str, data: bytes, **kwargs):
    """POST a big CV as a body encoded in memory (the test client's own tempfile leaks)."""
    fields = {"cv": FileStorage(io.BytesIO(data), filename="cv.pdf"), "cover_letter": "Hello!"}
    boundary, body = encode_multipart(fields)
    return client.post(
        url, data=body, content_type=f"multipart/form-data; boundary={boundary}", **kwargs
    )


def test_apply_form_and_submission(app, client, login, setup, outbox, minimal_pdf):
    partner, manager, job, candidate = setup
    login(client, candidate)
    page = client.get(f"/jobs/applications/apply/{job.id}")
    assert page.status_code == 200
    assert b'id="apply-form"' in page.data
    assert b'name="retention_consent"' in page.data
    before = set(cv_files(app))
    response = client.post(
        f"/jobs/applications/apply/{job.id}",
        data=apply_form(minimal_pdf, "../../etc/My CV.pdf", retention_consent="y"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/jobs/applications/")
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.job_id == job.id))
        assert application.user_id == candidate.id
        assert application.status == ApplicationStatus.SUBMITTED
        assert application.retention_consent is True
        assert application.cover_letter == "Hello!"
        assert application.cv_original_name == "My CV.pdf"
        assert application.cv_size == len(minimal_pdf)
        filename = application.cv_filename
        history = db.session.scalars(
            select(ApplicationStatusChange.to_status).where(
                ApplicationStatusChange.application_id == application.id
            )
        ).all()
    assert history == ["submitted"]
    new_files = set(cv_files(app)) - before
    assert [path.name for path in new_files] == [filename]
    # A random name: nothing of the user's file name reaches the disk.
    assert "CV" not in filename
    assert "etc" not in filename
    assert next(iter(new_files)).read_bytes() == minimal_pdf
    assert [m.subject for m in outbox(to=candidate.email)] == ["Your application was sent"]
    assert [m.subject for m in outbox(to=manager.email)] == ["A new application"]
    assert "Ada Lovelace" in outbox(to=manager.email)[0].body_text


def test_second_application_is_refused(app, client, login, setup, create_application, minimal_pdf):
    _partner, _manager, job, candidate = setup
    create_application(job, candidate)
    files = cv_files(app)
    login(client, candidate)
    page = client.get(f"/jobs/applications/apply/{job.id}")
    assert b'id="already-applied"' in page.data
    response = client.post(
        f"/jobs/applications/apply/{job.id}",
        data=apply_form(minimal_pdf),
        content_type="multipart/form-data",
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 409
    assert b"already applied" in response.data
    assert count_applications(app, job.id) == 1
    assert cv_files(app) == files


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"<html><script>alert(1)</script></html>", "cv.pdf"),  # HTML renamed .pdf
        (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64, "cv.pdf"),  # a Windows program
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 64, "cv.pdf"),  # a Linux program
        (b"%PDF-1.4\n%%EOF\n", "cv.html"),  # a PDF with another extension
        (b"", "cv.pdf"),
    ],
)
def test_not_a_pdf_is_refused(app, client, login, setup, data, name):
    _partner, _manager, job, candidate = setup
    files = cv_files(app)
    login(client, candidate)
    response = client.post(
        f"/jobs/applications/apply/{job.id}",
        data=apply_form(data, name),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert b'id="apply-error"' in response.data
    assert count_applications(app, job.id) == 0
    assert cv_files(app) == files


def _with_object(extra: bytes) -> bytes:
    """MINIMAL_PDF with one more object before the trailer (offsets are not checked)."""
    head, tail = MINIMAL_PDF.split(b"xref\n", 1)
    return head + extra + b"\nxref\n" + tail


def _object_stream(body: bytes) -> bytes:
    """An object stream (PDF 1.5) whose compressed body holds ``body``: invisible to grep."""
    packed = zlib.compress(b"4 0 " + body)
    return (
        b"5 0 obj<</Type/ObjStm/N 1/First 4/Filter/FlateDecode/Length %d>>stream\n" % len(packed)
        + packed
        + b"\nendstream endobj"
    )


@pytest.mark.parametrize(
    "pdf",
    [
        # Opens a script when the document opens.
        MINIMAL_PDF.replace(
            b"/Type/Catalog", b"/Type/Catalog/OpenAction<</S/JavaScript/JS(app.alert(1))>>"
        ),
        # The same with the name hex-escaped, as PDF allows.
        MINIMAL_PDF.replace(
            b"/Type/Catalog", b"/Type/Catalog/OpenAction<</S/J#61vaScript/J#53(app.alert(1))>>"
        ),
        # A page action that launches a program.
        _with_object(b"4 0 obj<</S/Launch/F(cmd.exe)>>endobj"),
        # A script hidden in a compressed object stream.
        _with_object(_object_stream(b"<</S/JavaScript/JS(app.alert(1))>>")),
        # An embedded file.
        _with_object(b"4 0 obj<</Type/EmbeddedFile/Length 1>>stream\nx\nendstream endobj"),
    ],
)
def test_a_pdf_with_active_content_is_refused(app, client, login, setup, pdf):
    """Scripts, launch actions and attachments are refused (README: refused, not stripped)."""
    _partner, _manager, job, candidate = setup
    files = cv_files(app)
    login(client, candidate)
    response = client.post(
        f"/jobs/applications/apply/{job.id}",
        data=apply_form(pdf, "cv.pdf"),
        content_type="multipart/form-data",
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert b"scripts, actions or attached files" in response.data
    assert count_applications(app, job.id) == 0
    assert cv_files(app) == files


def test_a_pdf_that_only_mentions_javascript_in_its_text_is_accepted(app, client, login, setup):
    _partner, _manager, job, candidate = setup
    login(client, candidate)
    text = zlib.compress(b"BT /F1 12 Tf (Skills: JavaScript, JS, Python) Tj ET")
    pdf = _with_object(
        b"4 0 obj<</Length %d/Filter/FlateDecode>>stream\n" % len(text)
        + text
        + b"\nendstream endobj"
    )
    response = client.post(
        f"/jobs/applications/apply/{job.id}",
        data=apply_form(pdf, "cv.pdf"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert count_applications(app, job.id) == 1


def test_cv_over_5_mb_is_refused(app, client, login, setup):
    _partner, _manager, job, candidate = setup
    login(client, candidate)
    big = b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024)
    response = post_large(
        client, f"/jobs/applications/apply/{job.id}", big, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 422
    assert b"larger than 5 MB" in response.data
    assert count_applications(app, job.id) == 0


def test_body_over_6_mb_answers_a_clear_413(app, client, login, setup):
    _partner, _manager, job, candidate = setup
    login(client, candidate)
    huge = b"%PDF-1.4\n" + b"0" * (6 * 1024 * 1024 + 10)
    response = post_large(
        client, f"/jobs/applications/apply/{job.id}", huge, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 413
    assert b"5 MB at most" in response.data
    assert count_applications(app, job.id) == 0


def test_missing_cv_is_refused(app, client, login, setup):
    _partner, _manager, job, candidate = setup
    login(client, candidate)
    response = client.post(
        f"/jobs/applications/apply/{job.id}",
        data={"cover_letter": "no cv"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert count_applications(app, job.id) == 0


@pytest.mark.parametrize("status", ["closed", "expired", "archived"])
def test_ended_job_answers_410(app, client, login, setup, create_job, status, minimal_pdf):
    partner, _manager, _job, candidate = setup
    job = create_job(partner, status=status)
    login(client, candidate)
    assert client.get(f"/jobs/applications/apply/{job.id}").status_code == 410
    response = client.post(
        f"/jobs/applications/apply/{job.id}",
        data=apply_form(minimal_pdf),
        content_type="multipart/form-data",
    )
    assert response.status_code == 410
    assert count_applications(app, job.id) == 0


def test_published_job_past_its_listing_answers_410(app, client, login, setup, create_job):
    partner, _manager, _job, candidate = setup
    job = create_job(partner, listed_until=utcnow() - timedelta(hours=1))
    login(client, candidate)
    assert client.get(f"/jobs/applications/apply/{job.id}").status_code == 410


@pytest.mark.parametrize("status", ["draft", "submitted", "rejected"])
def test_unpublished_job_answers_404(client, login, setup, create_job, status):
    partner, _manager, _job, candidate = setup
    job = create_job(partner, status=status)
    login(client, candidate)
    assert client.get(f"/jobs/applications/apply/{job.id}").status_code == 404


def test_only_verified_alumni_apply(app, client, login, setup, create_user, minimal_pdf):
    _partner, _manager, job, _candidate = setup
    url = f"/jobs/applications/apply/{job.id}"
    assert client.get(url).status_code == 302  # to sign-in
    pending = create_user(alumni=True, status="pending")
    login(client, pending)
    assert client.get(url).status_code == 403
    response = client.post(url, data=apply_form(minimal_pdf), content_type="multipart/form-data")
    assert response.status_code == 403
    assert count_applications(app, job.id) == 0


def test_apply_is_rate_limited_per_account(client, login, setup, rate_limits):
    _partner, _manager, job, candidate = setup
    login(client, candidate)
    url = f"/jobs/applications/apply/{job.id}"
    statuses = [client.post(url, data={}).status_code for _ in range(21)]
    assert statuses[:20] == [422] * 20
    assert statuses[20] == 429


def test_my_applications_show_each_status_with_its_date(
    app, client, login, setup, create_job, create_application
):
    partner, _manager, job, candidate = setup
    other_job = create_job(partner, title_en="Data analyst")
    application = create_application(job, candidate)
    create_application(other_job, candidate, status="rejected")
    with app.app_context():
        for to_status, days in (("submitted", 3), ("in_review", 2), ("interview", 1)):
            db.session.add(
                ApplicationStatusChange(
                    application_id=application.id,
                    to_status=to_status,
                    created_at=utcnow() - timedelta(days=days),
                )
            )
        db.session.commit()
    login(client, candidate)
    page = client.get("/jobs/applications/", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'id="application-{application.id}"' in html
    assert "Data analyst" in html
    assert "Software engineer" in html
    assert "Interview" in html
    assert "In review" in html
    expected = (utcnow() - timedelta(days=2)).strftime("%Y-%m-%d")
    assert expected in html
    assert html.count('data-status="in_review"') == 1


def test_empty_state(client, login, create_user):
    member = create_user(alumni=True, status="verified")
    login(client, member)
    page = client.get("/jobs/applications/")
    assert b'id="no-applications"' in page.data


def test_withdraw(app, client, login, setup, create_application, outbox):
    _partner, manager, job, candidate = setup
    application = create_application(job, candidate, status="in_review")
    login(client, candidate)
    response = client.post(f"/jobs/applications/{application.id}/withdraw")
    assert response.status_code == 302
    with app.app_context():
        row = db.session.get(Application, application.id)
        assert row.status == ApplicationStatus.WITHDRAWN
        assert row.withdrawn_at is not None
        changes = db.session.scalars(
            select(ApplicationStatusChange).where(
                ApplicationStatusChange.application_id == application.id
            )
        ).all()
    assert [(c.from_status, c.to_status, c.actor_id) for c in changes] == [
        ("in_review", "withdrawn", candidate.id)
    ]
    assert [m.subject for m in outbox(to=manager.email)] == ["An application was withdrawn"]
    # Twice is refused; nothing more changes.
    client.post(f"/jobs/applications/{application.id}/withdraw")
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count(ApplicationStatusChange.id)).where(
                    ApplicationStatusChange.application_id == application.id
                )
            )
            == 1
        )


def test_a_member_cannot_read_or_withdraw_another_members_application(
    app, client, login, setup, create_user, create_application
):
    _partner, _manager, job, candidate = setup
    application = create_application(job, candidate)
    other = create_user(alumni=True, status="verified")
    login(client, other)
    page = client.get("/jobs/applications/")
    assert f'id="application-{application.id}"'.encode() not in page.data
    assert client.get(f"/jobs/applications/{application.id}/cv").status_code == 404
    assert client.post(f"/jobs/applications/{application.id}/withdraw").status_code == 404
    with app.app_context():
        assert db.session.get(Application, application.id).status == ApplicationStatus.SUBMITTED


def test_candidate_downloads_own_cv_as_attachment(
    client, login, setup, create_application, minimal_pdf
):
    _partner, _manager, job, candidate = setup
    application = create_application(job, candidate)
    login(client, candidate)
    response = client.get(f"/jobs/applications/{application.id}/cv")
    assert response.status_code == 200
    assert response.data == minimal_pdf
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox"
    assert response.mimetype == "application/pdf"
    response.close()

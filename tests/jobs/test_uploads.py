"""CV uploads (CHECKS.md "Uploads"): storage, faults that must leave no orphan, safe serving."""

from __future__ import annotations

import errno
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from jobs.models import Application, ApplicationStatusChange
from marketplace.extensions import db


@pytest.fixture
def setup(create_partner, create_job, create_user):
    partner = create_partner()
    job = create_job(partner)
    candidate = create_user(alumni=True, status="verified", locale="en")
    return partner, job, candidate


def cv_files(app) -> list[Path]:
    folder = Path(app.config["UPLOAD_FOLDER"]) / "cvs"
    return sorted(folder.iterdir()) if folder.exists() else []


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count(Application.id))),
            db.session.scalar(select(func.count(ApplicationStatusChange.id))),
        )


def form(pdf: bytes) -> dict:
    return {"cv": (io.BytesIO(pdf), "cv.pdf"), "cover_letter": "Hello"}


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up while a CV is written: the file exists, the write fails ENOSPC."""
    real_open = Path.open

    class FullFile:
        def __init__(self, handle) -> None:
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.handle.close()

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def flush(self) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    def fake_open(self: Path, mode: str = "r", *args, **kwargs):
        handle = real_open(self, mode, *args, **kwargs)
        if "cvs" in self.parts and "x" in mode:
            return FullFile(handle)
        return handle

    monkeypatch.setattr(Path, "open", fake_open)


@contextmanager
def failing_insert(app, error: Exception) -> Iterator[None]:
    """The database refuses the INSERT of an application (after the CV was written)."""
    with app.app_context():
        engine = db.engine

    def refuse(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO APPLICATIONS"):
            raise error

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", refuse)


def test_full_disk_page_leaves_no_row_and_no_file(
    app, client, login, setup, full_disk, minimal_pdf
):
    _partner, job, candidate = setup
    files, rows = cv_files(app), counts(app)
    login(client, candidate)
    response = client.post(
        f"/jobs/applications/apply/{job.id}",
        data=form(minimal_pdf),
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 507
    assert b'id="apply-error"' in response.data
    assert b"storage is full" in response.data
    assert counts(app) == rows
    assert cv_files(app) == files


def test_full_disk_api_answers_507_and_leaves_nothing(
    app, client, setup, api_headers, full_disk, minimal_pdf
):
    _partner, job, candidate = setup
    files, rows = cv_files(app), counts(app)
    response = client.post(
        f"/api/v1/jobs/{job.id}/applications",
        data=form(minimal_pdf),
        headers=api_headers(candidate),
    )
    assert response.status_code == 507
    assert response.json["errors"]["reason"] == "storage_unavailable"
    assert counts(app) == rows
    assert cv_files(app) == files


def test_unwritable_upload_folder_leaves_nothing(app, client, login, setup, tmp_path, minimal_pdf):
    _partner, job, candidate = setup
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the upload folder should be")
    rows = counts(app)
    original = app.config["UPLOAD_FOLDER"]
    app.config["UPLOAD_FOLDER"] = str(blocker)
    try:
        login(client, candidate)
        response = client.post(f"/jobs/applications/apply/{job.id}", data=form(minimal_pdf))
    finally:
        app.config["UPLOAD_FOLDER"] = original
    assert response.status_code == 507
    assert counts(app) == rows
    assert blocker.read_text().startswith("a file")


def test_refused_insert_removes_the_stored_cv(app, client, login, setup, minimal_pdf):
    _partner, job, candidate = setup
    files, rows = cv_files(app), counts(app)
    login(client, candidate)
    duplicate = IntegrityError("INSERT INTO applications", {}, Exception("unique violation"))
    with failing_insert(app, duplicate):
        response = client.post(f"/jobs/applications/apply/{job.id}", data=form(minimal_pdf))
    # A unique violation is the concurrent twin of this application: "already applied".
    assert response.status_code == 409
    assert counts(app) == rows
    assert cv_files(app) == files


def test_database_down_during_insert_removes_the_stored_cv(app, client, login, setup, minimal_pdf):
    _partner, job, candidate = setup
    files, rows = cv_files(app), counts(app)
    login(client, candidate)
    down = OperationalError("INSERT INTO applications", {}, Exception("server closed"))
    with failing_insert(app, down):
        response = client.post(f"/jobs/applications/apply/{job.id}", data=form(minimal_pdf))
    assert response.status_code == 503
    assert counts(app) == rows
    assert cv_files(app) == files


def test_cvs_are_stored_outside_static(app):
    static = Path(app.static_folder).resolve()
    uploads = Path(app.config["UPLOAD_FOLDER"]).resolve()
    assert static not in uploads.parents
    assert uploads != static


def test_a_bad_stored_name_cannot_escape_the_cv_folder(
    app, client, login, setup, create_application
):
    _partner, job, candidate = setup
    secret = Path(app.config["UPLOAD_FOLDER"]) / "secret.pdf"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_bytes(b"%PDF-1.4 secret")
    application = create_application(job, candidate, cv=False)
    with app.app_context():
        row = db.session.get(Application, application.id)
        row.cv_filename = "../secret.pdf"
        db.session.commit()
    login(client, candidate)
    response = client.get(f"/jobs/applications/{application.id}/cv")
    assert response.status_code == 404
    assert b"secret" not in response.data


@pytest.mark.parametrize("who", ["candidate", "partner"])
def test_cv_served_as_sandboxed_attachment(
    client, login, setup, create_application, who, minimal_pdf
):
    partner, job, candidate = setup
    application = create_application(job, candidate)
    if who == "candidate":
        login(client, candidate)
        url = f"/jobs/applications/{application.id}/cv"
    else:
        login(client, partner.owner)
        url = f"/jobs/manage/pipeline/applications/{application.id}/cv"
    response = client.get(url)
    assert response.status_code == 200
    assert response.data == minimal_pdf
    assert response.headers["Content-Disposition"] == "attachment; filename=cv.pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox"
    response.close()

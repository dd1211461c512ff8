"""Evidence files of alumni registrations: checked by content, stored under a private name.

The upload side (``uploaded_evidence``) deletes the stored file again if the request fails.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import IO, Any, NamedTuple

from flask import current_app
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import FileStorage

from marketplace.accounts.models import AlumniProfile
from marketplace.accounts.services import InvalidUpload
from marketplace.extensions import db

EVIDENCE_TYPES = {
    b"%PDF-": ("application/pdf", ".pdf"),
    b"\x89PNG\r\n\x1a\n": ("image/png", ".png"),
    b"\xff\xd8\xff": ("image/jpeg", ".jpg"),
}


def store_evidence(stream: IO[bytes], original_name: str) -> tuple[str, str]:
    """Check an evidence file by content and size, store it under a random name."""
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InvalidUpload(_l("The file is larger than 5 MB."))
    kind = next((kind for magic, kind in EVIDENCE_TYPES.items() if data.startswith(magic)), None)
    if kind is None:
        raise InvalidUpload(_l("Send a PDF, PNG or JPEG file."))
    content_type, suffix = kind
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / "evidence"
    folder.mkdir(parents=True, exist_ok=True)
    name = secrets.token_hex(16) + suffix
    path = folder / name
    try:
        path.write_bytes(data)
    except OSError:
        path.unlink(missing_ok=True)
        raise
    return name, content_type


def evidence_path(profile: AlumniProfile) -> Path | None:
    if not profile.evidence_filename:
        return None
    return Path(current_app.config["UPLOAD_FOLDER"]) / "evidence" / profile.evidence_filename


def delete_evidence(filename: str | None) -> None:
    """Remove a stored evidence file (one no row points to any more)."""
    if filename:
        (Path(current_app.config["UPLOAD_FOLDER"]) / "evidence" / Path(filename).name).unlink(
            missing_ok=True
        )


class Evidence(NamedTuple):
    """A stored evidence file (all None when none was sent)."""

    filename: str | None = None
    content_type: str | None = None
    original_name: str | None = None


def original_name(upload: FileStorage) -> str:
    """The file's own name, kept for the download: no client path, no control characters."""
    # Some browsers send a full client path; a newline would break the header it goes in.
    name = PurePath((upload.filename or "").replace("\\", "/")).name
    name = "".join(char for char in name if char.isprintable()).strip()
    return name[:255] or "evidence"


@contextmanager
def uploaded_evidence(field: Any) -> Iterator[Evidence]:
    """Store the field's file, if any, for the block; if the block fails it is deleted again.

    A refused file raises InvalidUpload before anything is written.
    """
    upload = field.data
    if not isinstance(upload, FileStorage) or not upload.filename:
        yield Evidence()
        return
    original = original_name(upload)
    filename, content_type = store_evidence(upload.stream, original)
    try:
        yield Evidence(filename, content_type, original)
    except BaseException:
        db.session.rollback()
        delete_evidence(filename)
        raise

"""The command-line contract (DESIGN.md, "Commands"): tasks run-due."""

from __future__ import annotations

import uuid
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

from sqlalchemy import select

from marketplace.accounts.models import (
    AccountToken,
    AlumniProfile,
    User,
)
from marketplace.accounts.services import issue_account_token
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.notifications.models import OutboxMessage
from marketplace.tasks import run_due

# ---------------------------------------------------------------- tasks run-due


def test_run_due_delivers_pending_mail_once(app, cli):
    recipient = f"someone-{uuid.uuid4().hex[:8]}@example.org"
    with app.app_context():
        db.session.add(
            OutboxMessage(
                recipient=recipient,
                subject="Hello",
                body_text="Body",
                template="test/hello",
            )
        )
        db.session.commit()

    first = cli("tasks", "run-due")
    second = cli("tasks", "run-due")

    assert first.exit_code == 0, first.output
    assert "mail: 1 pending e-mail(s) sent" in first.output
    assert "mail: 0 pending e-mail(s) sent" in second.output
    with app.app_context():
        message = db.session.scalar(select(OutboxMessage))
        assert message.status == "sent"
    sent = [
        mail
        for mail in (
            message_from_bytes(path.read_bytes())
            for path in Path(app.config["MAIL_OUTBOX_FOLDER"]).glob("*.eml")
        )
        if mail["To"] == recipient
    ]
    assert len(sent) == 1
    assert sent[0]["Subject"] == "Hello"


def make_unconfirmed(app, create_user, email: str, *, age_days: int) -> tuple[int, Path]:
    """An unconfirmed alumnus registered ``age_days`` ago, with an evidence file and a token."""
    user = create_user(email, alumni=True, confirmed=False)
    folder = Path(app.config["UPLOAD_FOLDER"]) / "evidence"
    folder.mkdir(parents=True, exist_ok=True)
    evidence = folder / f"{user.id}-evidence.pdf"
    evidence.write_bytes(b"%PDF-1.4 test")
    with app.app_context():
        row = db.session.get(User, user.id)
        row.created_at = utcnow() - timedelta(days=age_days)
        row.alumni_profile.evidence_filename = evidence.name
        issue_account_token(row, "confirm")
        db.session.commit()
    return user.id, evidence


def test_run_due_deletes_unconfirmed_registrations_after_30_days(app, cli, create_user):
    old_id, old_file = make_unconfirmed(app, create_user, "old@example.org", age_days=31)
    recent_id, recent_file = make_unconfirmed(app, create_user, "new@example.org", age_days=29)
    confirmed = create_user("kept@example.org", alumni=True)
    staff = create_user("staff@example.org", roles=("admin",), confirmed=False)
    with app.app_context():
        for user_id in (confirmed.id, staff.id):
            db.session.get(User, user_id).created_at = utcnow() - timedelta(days=400)
        db.session.commit()

    result = cli("tasks", "run-due")

    assert result.exit_code == 0, result.output
    assert "retention: 1 unconfirmed registration(s) older than 30 days deleted" in result.output
    with app.app_context():
        assert db.session.get(User, old_id) is None
        assert (
            db.session.scalar(select(AlumniProfile).where(AlumniProfile.user_id == old_id)) is None
        )
        assert db.session.scalar(select(AccountToken).where(AccountToken.user_id == old_id)) is None
        assert db.session.get(User, recent_id) is not None
        assert db.session.get(User, confirmed.id) is not None
        assert db.session.get(User, staff.id) is not None
    assert not old_file.exists()
    assert recent_file.exists()

    again = cli("tasks", "run-due")
    assert "retention: 0 unconfirmed" in again.output


def test_run_due_retention_with_a_moved_clock(app, create_user):
    recent_id, recent_file = make_unconfirmed(app, create_user, "new@example.org", age_days=1)
    lines: list[str] = []

    with app.app_context():
        run_due(utcnow() + timedelta(days=28), echo=lines.append)
        assert db.session.get(User, recent_id) is not None
        run_due(utcnow() + timedelta(days=30), echo=lines.append)
        assert db.session.get(User, recent_id) is None

    # Other packages register tasks of their own (offer expiry...): look at retention's lines.
    retention = [line for line in lines if line.startswith("retention:")]
    assert retention == [
        "retention: 0 unconfirmed registration(s) older than 30 days deleted",
        "retention: 1 unconfirmed registration(s) older than 30 days deleted",
    ]
    assert not recent_file.exists()

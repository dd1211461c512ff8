"""Retention with a moved clock: unconfirmed registrations after 30 days; accounts whose
deletion grace is over are anonymised (see test_deletion); the jobs retention stays."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from marketplace.accounts.models import AlumniProfile, User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.tasks import DUE_TASKS, purge_unconfirmed_registrations


def test_unconfirmed_registrations_go_after_30_days(app, create_user):
    unconfirmed = create_user(confirmed=False, alumni=True)
    confirmed = create_user(confirmed=True, alumni=True)
    folder = Path(app.config["UPLOAD_FOLDER"]) / "evidence"
    folder.mkdir(parents=True, exist_ok=True)
    evidence = folder / "unconfirmed-evidence.pdf"
    evidence.write_bytes(b"%PDF-1.4")
    with app.app_context():
        profile = db.session.get(User, unconfirmed.id).alumni_profile
        db.session.get(AlumniProfile, profile.id).evidence_filename = evidence.name
        db.session.commit()
        now = utcnow()
        # 29 days on: kept.
        purge_unconfirmed_registrations(now + timedelta(days=29))
        assert db.session.get(User, unconfirmed.id) is not None
        # 31 days on: gone with its file; the confirmed account stays.
        purge_unconfirmed_registrations(now + timedelta(days=31))
        assert db.session.get(User, unconfirmed.id) is None
        assert db.session.get(User, confirmed.id) is not None
    assert not evidence.exists()


def test_every_retention_task_runs_with_run_due():
    names = [task.name for task in DUE_TASKS]
    for name in ("retention", "account-deletion", "application-retention", "cv-retention"):
        assert name in names

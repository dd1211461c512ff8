"""The partners' periodic task: pending applications left without any representative."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.tasks import DUE_TASKS, run_due
from partners.models import Partner, PartnerInvitation, PartnerMember
from partners.tasks import delete_orphan_applications
from tests.partners.conftest import PNG

TASK_LINE = (
    "partner-applications: {} pending partner application(s) without a representative deleted"
)


def _age(app, user_id: int, *, days: int) -> None:
    with app.app_context():
        db.session.get(User, user_id).created_at = utcnow() - timedelta(days=days)
        db.session.commit()


def test_the_task_runs_with_tasks_run_due(app):
    assert "partner-applications" in [task.name for task in DUE_TASKS]
    names = [task.name for task in DUE_TASKS]
    # It runs after the retention purge, so one run clears both.
    assert names.index("retention") < names.index("partner-applications")


def test_an_applicant_purged_after_30_days_takes_the_pending_application(
    app, create_user, create_partner
):
    applicant = create_user("applicant@example.org", confirmed=False)
    _age(app, applicant.id, days=1)
    orphan = create_partner("Orphan Ltd", status="pending", owner=applicant)
    logo = Path(app.config["UPLOAD_FOLDER"]) / "logos" / "orphan-logo.png"
    logo.parent.mkdir(parents=True, exist_ok=True)
    logo.write_bytes(PNG)
    with app.app_context():
        db.session.get(Partner, orphan.partner_id).logo_filename = logo.name
        db.session.add(
            PartnerInvitation(
                partner_id=orphan.partner_id,
                email="x@example.org",
                role="manager",
                token_hash="0" * 64,
                expires_at=utcnow() + timedelta(days=7),
            )
        )
        db.session.commit()
    # Kept: a pending application whose owner confirmed, and an approved partner.
    kept_pending = create_partner("Confirmed Ltd", status="pending")
    approved = create_partner("Approved Ltd", status="approved")
    lines: list[str] = []

    with app.app_context():
        run_due(utcnow() + timedelta(days=28), echo=lines.append)
        assert db.session.get(Partner, orphan.partner_id) is not None
        run_due(utcnow() + timedelta(days=30), echo=lines.append)
        assert db.session.get(User, applicant.id) is None
        assert db.session.get(Partner, orphan.partner_id) is None
        assert (
            db.session.scalar(
                select(PartnerInvitation).where(PartnerInvitation.partner_id == orphan.partner_id)
            )
            is None
        )
        assert db.session.get(Partner, kept_pending.partner_id) is not None
        assert db.session.get(Partner, approved.partner_id) is not None
        run_due(utcnow() + timedelta(days=31), echo=lines.append)

    assert [line for line in lines if line.startswith("partner-applications:")] == [
        TASK_LINE.format(0),
        TASK_LINE.format(1),
        TASK_LINE.format(0),
    ]
    assert not logo.exists()


def test_only_pending_partners_without_members_are_deleted(app, create_partner):
    pending = create_partner("Pending Ltd", status="pending")
    refused = create_partner("Refused Ltd", status="refused")
    with app.app_context():
        for team in (pending, refused):
            db.session.delete(db.session.get(PartnerMember, team.owner_member_id))
        db.session.commit()

        report = delete_orphan_applications(utcnow())

        assert report == "1 pending partner application(s) without a representative deleted"
        assert db.session.get(Partner, pending.partner_id) is None
        # A decided partner keeps its record, members or not.
        assert db.session.get(Partner, refused.partner_id) is not None
        assert delete_orphan_applications(utcnow()).startswith("0 ")


def test_a_disabled_representative_still_counts_as_a_member(app, create_partner):
    team = create_partner("Sleeping Ltd", status="pending")
    with app.app_context():
        db.session.get(PartnerMember, team.owner_member_id).disabled_at = utcnow()
        db.session.commit()

        assert delete_orphan_applications(utcnow()).startswith("0 ")
        assert db.session.get(Partner, team.partner_id) is not None

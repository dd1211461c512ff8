"""Account deletion: password re-entry, 7-day grace that can be cancelled, then anonymisation
that removes personal data and files but keeps the payment ledger (CHECKS "Privacy")."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from jobs.models import Application, ApplicationStatus
from marketplace.accounts.models import ApiToken, User
from marketplace.accounts.services import create_user as register_user
from marketplace.audit import AuditLog
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.notifications.models import OutboxMessage, SavedSearch
from marketplace.payments.models import Payment, PaymentProfile
from marketplace.privacy import services, tasks
from marketplace.tasks import DUE_TASKS
from partners.models import PartnerMember
from tests.conftest import PASSWORD


def _user(app, user_id) -> User:
    with app.app_context():
        return db.session.get(User, user_id)


def _session_user_id(client):
    with client.session_transaction() as session:
        return session.get("_user_id")


def _schedule(app, person, now):
    with app.app_context():
        user = db.session.get(User, person.user.id)
        services.request_deletion(user, password=PASSWORD, now=now)
        db.session.commit()


def _run(app, now):
    with app.app_context():
        return tasks.anonymise_accounts(now)


def test_the_task_is_registered_with_run_due(app):
    assert "account-deletion" in [task.name for task in DUE_TASKS]


def test_a_wrong_password_schedules_nothing(app, client, login, create_user):
    user = create_user(alumni=True, status="verified")
    login(client, user)
    response = client.post("/privacy/me/delete", data={"password": "not my password"})
    assert response.status_code == 422
    assert _user(app, user.id).deletion_due_at is None


def test_request_schedules_in_7_days_mails_and_shows_a_banner(
    app, client, login, create_user, outbox
):
    user = create_user(alumni=True, status="verified", locale="en")
    login(client, user)
    before = utcnow()
    response = client.post("/privacy/me/delete", data={"password": PASSWORD})
    assert response.status_code == 302
    row = _user(app, user.id)
    assert row.deletion_requested_at >= before
    assert row.deletion_due_at - row.deletion_requested_at == timedelta(days=7)
    mails = [m for m in outbox(to=user.email) if m.template == "privacy/deletion_requested"]
    assert len(mails) == 1
    assert mails[0].subject == "Your account will be deleted in 7 days"
    assert "/privacy/me" in mails[0].body_text
    # Still signed in, and every page says it is scheduled, with a way to keep the account.
    page = client.get("/privacy/me")
    assert page.status_code == 200
    assert b'id="deletion-banner"' in page.data
    assert b'id="cancel-deletion-form"' in page.data
    assert b'id="deletion-banner"' in client.get("/").data
    # Asking twice changes nothing.
    assert client.post("/privacy/me/delete", data={"password": PASSWORD}).status_code == 409


def test_sign_in_still_works_during_the_grace_period(app, client, create_user):
    user = create_user(alumni=True, status="verified")
    _schedule(app, type("P", (), {"user": user}), utcnow())
    response = client.post("/accounts/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert _session_user_id(client) is not None


def test_cancel_keeps_the_account(app, client, login, person_with_data, outbox):
    person = person_with_data("Alice")
    t0 = utcnow()
    _schedule(app, person, t0)
    login(client, person.user)
    response = client.post("/privacy/me/delete/cancel")
    assert response.status_code == 302
    row = _user(app, person.user.id)
    assert row.deletion_requested_at is None
    assert row.deletion_due_at is None
    assert [m.template for m in outbox(to=person.email)][-1] == "privacy/deletion_cancelled"
    assert b'id="deletion-banner"' not in client.get("/").data
    # Past the 7 days nothing happens to it.
    _run(app, t0 + timedelta(days=8))
    assert _user(app, person.user.id).email == person.email
    assert person.cv.exists()
    assert person.evidence.exists()


def test_anonymisation_after_the_grace_period(app, client, login, person_with_data):
    a = person_with_data("Alice")
    b = person_with_data("Bruno")
    t0 = utcnow()
    _schedule(app, a, t0)
    old_session = app.test_client()
    login(old_session, a.user)

    # Six days later: nothing yet.
    assert _run(app, t0 + timedelta(days=6)).startswith("0 account(s)")
    assert _user(app, a.user.id).anonymised_at is None

    # After seven days: done, once.
    assert _run(app, t0 + timedelta(days=7, seconds=1)).startswith("1 account(s)")
    assert _run(app, t0 + timedelta(days=8)).startswith("0 account(s)")
    with app.app_context():
        user = db.session.get(User, a.user.id)
        assert user.email == f"deleted-{user.id}@invalid"
        assert user.full_name == services.ANONYMOUS_NAME
        assert user.anonymised_at is not None
        assert user.disabled_at is not None
        profile = user.alumni_profile
        assert profile.city is None
        assert profile.country is None
        assert profile.evidence_filename is None
        assert profile.evidence_original_name is None
        # The ledger stays, linked to the anonymised row, with an anonymous payer.
        payment = db.session.get(Payment, a.payment_id)
        assert payment.payer_id == user.id
        assert payment.payer_name == services.ANONYMOUS_NAME
        assert payment.payer_email is None
        assert payment.amount == 4000
        assert len(payment.refunds) == 1
        assert (
            db.session.scalar(select(PaymentProfile).where(PaymentProfile.user_id == user.id))
            is None
        )
        # Tokens, saved searches and team memberships.
        assert not db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()
        assert db.session.get(SavedSearch, a.search_id) is None
        member = db.session.scalar(select(PartnerMember).where(PartnerMember.user_id == user.id))
        assert member.disabled_at is not None
        # The application stays for the partner, anonymous, withdrawn, without CV or letter.
        application = db.session.get(Application, a.application_id)
        assert application.status == ApplicationStatus.WITHDRAWN
        assert application.cv_filename is None
        assert application.cover_letter is None
        assert application.cv_deleted_at is not None
        # No mail kept for the old address, and the anonymisation is in the audit log.
        assert not db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient == a.email)
        ).all()
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditLog)
                .where(AuditLog.action == "account.anonymised", AuditLog.object_id == user.id)
            )
            == 1
        )
        # B is untouched.
        other = db.session.get(User, b.user.id)
        assert other.email == b.email
        assert other.anonymised_at is None
        assert db.session.get(Payment, b.payment_id).payer_email == b.email

    # Files gone from disk (B's stay).
    assert not a.cv.exists()
    assert not a.evidence.exists()
    assert b.cv.exists()
    assert b.evidence.exists()

    # Signing in is impossible, with the old address or the placeholder; old cookies are dead.
    fresh = app.test_client()
    for email in (a.email, f"deleted-{a.user.id}@invalid"):
        fresh.post("/accounts/login", data={"email": email, "password": PASSWORD})
        assert _session_user_id(fresh) is None
    assert old_session.get("/privacy/me").status_code == 302

    # The e-mail address is free for a new account.
    with app.app_context():
        again = register_user(email=a.email, password="another long passphrase", full_name="A")
        db.session.commit()
        assert again.id != a.user.id


def test_staff_cannot_delete_their_account(app, client, login, create_user):
    moderator = create_user(roles=("moderator",))
    login(client, moderator)
    page = client.get("/privacy/me")
    assert b'id="deletion-blocked"' in page.data
    response = client.post("/privacy/me/delete", data={"password": PASSWORD})
    assert response.status_code == 409
    assert _user(app, moderator.id).deletion_due_at is None


def test_the_last_owner_of_a_partner_must_hand_over_first(
    app, client, login, create_partner, add_partner_member
):
    partner = create_partner(name="Acme")
    login(client, partner.owner)
    response = client.post("/privacy/me/delete", data={"password": PASSWORD})
    assert response.status_code == 409
    assert "Acme" in response.get_data(as_text=True)
    assert _user(app, partner.owner.id).deletion_due_at is None
    # With a second owner, the first may leave; a manager always may.
    add_partner_member(partner, role="owner")
    assert client.post("/privacy/me/delete", data={"password": PASSWORD}).status_code == 302
    assert _user(app, partner.owner.id).deletion_due_at is not None


def test_a_deletion_blocked_meanwhile_waits(app, create_partner, create_user):
    partner = create_partner(name="Acme")
    co_owner = create_user()
    with app.app_context():
        db.session.add(PartnerMember(partner_id=partner.id, user_id=co_owner.id, role="owner"))
        db.session.commit()
    t0 = utcnow()
    _schedule(app, type("P", (), {"user": partner.owner}), t0)
    # The other owner leaves the team during the grace period.
    with app.app_context():
        row = db.session.scalar(select(PartnerMember).where(PartnerMember.user_id == co_owner.id))
        row.disabled_at = t0
        db.session.commit()
    assert "1 blocked" in _run(app, t0 + timedelta(days=8))
    assert _user(app, partner.owner.id).anonymised_at is None


def test_deletion_form_needs_its_csrf_token(app, client, login, create_user, csrf_enabled):
    user = create_user(alumni=True, status="verified")
    login(client, user)
    response = client.post("/privacy/me/delete", data={"password": PASSWORD})
    assert response.status_code == 400
    assert _user(app, user.id).deletion_due_at is None

"""Reminders before the end (30, 7, 1 days; each once) and the opt-in auto-renewal (localstripe)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.models import Membership, MembershipTier
from marketplace.membership.services import grant_membership
from marketplace.membership.tasks import auto_renew, send_reminders
from marketplace.payments.gateway import EXTENSION_KEY
from marketplace.payments.models import Payment, PaymentProfile, PaymentStatus
from marketplace.tasks import run_due
from tests.payments.conftest import DECLINED, THREE_D_SECURE, VISA, card, stripe_api


@pytest.fixture
def stripe_app(app, localstripe):
    """The session app talking to the session's localstripe (as tests/payments' fixture)."""
    previous = app.config["STRIPE_API_BASE"]
    app.config["STRIPE_API_BASE"] = localstripe
    app.extensions.pop(EXTENSION_KEY, None)
    try:
        yield app
    finally:
        app.config["STRIPE_API_BASE"] = previous
        app.extensions.pop(EXTENSION_KEY, None)


def at(day) -> datetime:
    return datetime.combine(day, time(6, 0), tzinfo=UTC)


@pytest.fixture
def member(app, create_user, seed_reference):
    """A verified alumnus whose standard membership ends (``ends_on``) in 2 days."""
    user = create_user("renew@example.org", alumni=True, status="verified", locale="en")
    today = utcnow().date()
    with app.app_context():
        tier = db.session.scalar(select(MembershipTier).where(MembershipTier.code == "standard"))
        period = grant_membership(
            db.session.get(User, user.id),
            actor=None,
            months=12,
            tier=tier,
            starts_on=today + timedelta(days=2) - relativedelta(months=12),
        )
        db.session.commit()
        assert period.ends_on == today + timedelta(days=2)
        return user, period.id


def periods(app, user_id):
    with app.app_context():
        rows = db.session.scalars(
            select(Membership).where(Membership.user_id == user_id).order_by(Membership.starts_on)
        ).all()
        return [(row.starts_on, row.ends_on, row.source) for row in rows]


def test_reminders_go_30_7_and_1_days_before_the_end_once_each(app, create_user, outbox):
    user = create_user("remind@example.org", alumni=True, status="verified", locale="en")
    with app.app_context():
        period = grant_membership(
            db.session.get(User, user.id), actor=None, months=12, starts_on=utcnow().date()
        )
        db.session.commit()
        end = period.ends_on
    sent = []
    for days_before in (45, 31, 30, 30, 29, 8, 7, 7, 2, 1, 1, 0):
        with app.app_context():
            send_reminders(at(end - timedelta(days=days_before)))
        sent.append(len(outbox(to=user.email)))
    assert sent == [0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    mails = outbox(to=user.email)
    assert all(mail.template == "membership/reminder" for mail in mails)
    assert "ends in 30 days" in mails[0].body_text
    assert "ends tomorrow" in mails[2].body_text
    assert "/membership/" in mails[0].body_text


def test_a_renewed_membership_gets_no_reminder(app, create_user, outbox):
    user = create_user("renewed@example.org", alumni=True, status="verified", locale="en")
    with app.app_context():
        person = db.session.get(User, user.id)
        period = grant_membership(person, actor=None, months=12, starts_on=utcnow().date())
        grant_membership(person, actor=None, months=12, starts_on=period.ends_on)
        db.session.commit()
        end = period.ends_on
    with app.app_context():
        send_reminders(at(end - timedelta(days=7)))
    assert outbox(to=user.email) == []


def saved_card(app, localstripe, user_id, number, *, auto_renew=True):
    customer = stripe_api(localstripe, "POST", "/v1/customers", email="renew@example.org")["id"]
    method = card(localstripe, number)
    with app.app_context():
        db.session.add(
            PaymentProfile(
                user_id=user_id,
                stripe_customer_id=customer,
                payment_method_id=method,
                auto_renew=auto_renew,
            )
        )
        db.session.commit()


def test_auto_renewal_charges_the_saved_card_off_session(
    app, stripe_app, localstripe, member, outbox
):
    user, _period_id = member
    saved_card(app, localstripe, user.id, VISA)
    today = utcnow().date()
    now = utcnow()
    with app.app_context():
        report = auto_renew(now)
    assert report.startswith("1 membership(s) renewed")
    first, second = periods(app, user.id)
    assert second == (first[1], first[1] + relativedelta(months=12), "payment")
    assert first[1] == today + timedelta(days=2)
    with app.app_context():
        payment = db.session.scalar(select(Payment).where(Payment.payer_id == user.id))
        assert payment.status == PaymentStatus.SUCCEEDED
        assert payment.off_session is True
        assert payment.amount == 4000
    # Renewed: nothing more to do on the next runs.
    with app.app_context():
        assert auto_renew(now + timedelta(days=1)).startswith("0 membership(s) renewed")
    assert [mail.template for mail in outbox(to=user.email)] == ["payments/receipt"]


def test_no_auto_renewal_without_the_opt_in(app, stripe_app, localstripe, member):
    user, _period_id = member
    saved_card(app, localstripe, user.id, VISA, auto_renew=False)
    with app.app_context():
        auto_renew(utcnow())
        assert db.session.scalar(select(Payment).where(Payment.payer_id == user.id)) is None
    assert len(periods(app, user.id)) == 1


def test_a_declined_renewal_emails_a_link_and_retries_once_a_day(
    app,
    stripe_app,
    localstripe,
    member,
    outbox,
):
    user, _period_id = member
    saved_card(app, localstripe, user.id, DECLINED)
    now = utcnow()
    with app.app_context():
        assert auto_renew(now).endswith("1 renewal(s) failed")
        assert auto_renew(now + timedelta(hours=3)).endswith("0 renewal(s) failed")
    assert len(periods(app, user.id)) == 1
    mails = outbox(to=user.email)
    assert [mail.template for mail in mails] == ["membership/renewal_failed"]
    assert "/membership/" in mails[0].body_text
    with app.app_context():
        payments = db.session.scalars(select(Payment).where(Payment.payer_id == user.id)).all()
        assert [payment.status for payment in payments] == [PaymentStatus.FAILED]
        # The next day, one more attempt.
        assert auto_renew(now + timedelta(days=1, hours=1)).endswith("1 renewal(s) failed")
    assert len(outbox(to=user.email)) == 2


def test_a_renewal_the_bank_wants_to_check_asks_the_member(
    app,
    stripe_app,
    localstripe,
    member,
    outbox,
):
    user, _period_id = member
    saved_card(app, localstripe, user.id, THREE_D_SECURE)
    with app.app_context():
        assert auto_renew(utcnow()).endswith("1 renewal(s) failed")
        payment = db.session.scalar(select(Payment).where(Payment.payer_id == user.id))
        assert payment.status == PaymentStatus.REQUIRES_ACTION
    assert len(periods(app, user.id)) == 1
    assert [mail.template for mail in outbox(to=user.email)] == ["membership/renewal_failed"]


def test_the_tasks_are_registered_with_run_due(app):
    with app.app_context():
        lines = run_due(utcnow(), echo=lambda line: None)
    assert any(line.startswith("membership-reminders:") for line in lines)
    assert any(line.startswith("membership-auto-renewal:") for line in lines)


def test_stripe_unreachable_puts_the_renewal_off_without_a_mail(app, localstripe, member, outbox):
    user, _period_id = member
    saved_card(app, localstripe, user.id, VISA)
    previous = app.config["STRIPE_API_BASE"]
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # nothing listens there
    app.extensions.pop(EXTENSION_KEY, None)
    try:
        with app.app_context():
            report = auto_renew(utcnow())
    finally:
        app.config["STRIPE_API_BASE"] = previous
        app.extensions.pop(EXTENSION_KEY, None)
    assert report.endswith("1 put off (Stripe unreachable)")
    assert len(periods(app, user.id)) == 1
    assert outbox(to=user.email) == []

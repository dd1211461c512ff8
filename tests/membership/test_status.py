"""Membership statuses: active, grace (ended within 30 days), lapsed, none; members-only access."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.services import (
    MembershipStatus,
    grant_membership,
    has_active_membership,
    membership_status,
)
from marketplace.payments.models import Payment

START = date(2026, 1, 10)  # a 12-month period: covered 2026-01-10 .. 2027-01-09, ends_on 2027-01-10


@pytest.fixture
def member(app, create_user) -> int:
    user = create_user("status@example.org", alumni=True, status="verified")
    with app.app_context():
        grant_membership(db.session.get(User, user.id), actor=None, months=12, starts_on=START)
        db.session.commit()
    return user.id


@pytest.mark.parametrize(
    ("today", "expected", "valid_until"),
    [
        (START, MembershipStatus.ACTIVE, date(2027, 1, 9)),
        (date(2027, 1, 9), MembershipStatus.ACTIVE, date(2027, 1, 9)),
        (date(2027, 1, 10), MembershipStatus.GRACE, date(2027, 1, 9)),
        (date(2027, 2, 9), MembershipStatus.GRACE, date(2027, 1, 9)),
        (date(2027, 2, 10), MembershipStatus.LAPSED, date(2027, 1, 9)),
        (date(2029, 6, 1), MembershipStatus.LAPSED, date(2027, 1, 9)),
    ],
)
def test_status_follows_the_clock(app, member, today, expected, valid_until):
    with app.app_context():
        state = membership_status(db.session.get(User, member), today)
        assert state.status == expected
        assert state.valid_until == valid_until
        assert has_active_membership(db.session.get(User, member), on=today) is (
            expected == MembershipStatus.ACTIVE
        )


def test_no_period_means_none(app, create_user):
    user = create_user("never@example.org", alumni=True, status="verified")
    with app.app_context():
        state = membership_status(db.session.get(User, user.id), START)
        assert (state.status, state.tier, state.valid_until) == (MembershipStatus.NONE, None, None)


def test_a_period_paid_ahead_extends_valid_until(app, member):
    with app.app_context():
        user = db.session.get(User, member)
        grant_membership(user, actor=None, months=12, starts_on=date(2027, 1, 10))
        db.session.commit()
        state = membership_status(user, date(2026, 6, 1))
        assert state.status == MembershipStatus.ACTIVE
        assert state.valid_until == date(2028, 1, 9)
        assert membership_status(user, date(2027, 6, 1)).status == MembershipStatus.ACTIVE
        assert membership_status(user, date(2028, 1, 10) + timedelta(days=31)).status == (
            MembershipStatus.LAPSED
        )


def test_the_membership_page_shows_the_status(app, client, login, create_user, seed_reference):
    user = create_user("page@example.org", alumni=True, status="verified", locale="en")
    with app.app_context():
        grant_membership(
            db.session.get(User, user.id),
            actor=None,
            months=12,
            starts_on=utcnow().date() - timedelta(days=5),
        )
        db.session.commit()
    login(client, user)
    page = client.get("/membership/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-status="active"' in text
    assert 'id="pay-standard"' in text  # verified alumni see a Pay button per tier
    assert "Renew early" in text


def test_unverified_people_see_why_they_cannot_pay(app, client, login, create_user, seed_reference):
    user = create_user("waiting@example.org", alumni=True, status="pending", locale="en")
    login(client, user)
    text = client.get("/membership/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'id="membership-unverified"' in text
    assert 'id="pay-standard"' not in text
    assert 'data-status="none"' in text
    refused = client.post("/membership/checkout/standard", follow_redirects=True)
    assert "not been verified" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Payment).where(Payment.payer_id == user.id)) is None


def test_the_page_needs_a_sign_in(client):
    response = client.get("/membership/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"] or "login" in response.headers["Location"]

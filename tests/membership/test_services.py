"""Staff-granted memberships and the "active membership" test that members-only offers use."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.audit import AuditLog
from marketplace.errors import InvalidInput
from marketplace.extensions import db
from marketplace.membership.models import Membership, MembershipTier
from marketplace.membership.services import (
    active_membership,
    grant_membership,
    has_active_membership,
)


def test_grant_membership_is_dated_and_audited(app, create_user, seed_reference):
    admin = create_user(roles=("admin",))
    person = create_user(alumni=True, status="verified")
    with app.app_context():
        tier = db.session.scalar(select(MembershipTier).where(MembershipTier.code == "standard"))
        membership = grant_membership(
            db.session.get(User, person.id),
            actor=db.session.get(User, admin.id),
            months=12,
            tier=tier,
            starts_on=date(2026, 1, 31),
        )
        db.session.commit()
        membership_id = membership.id
    with app.app_context():
        row = db.session.get(Membership, membership_id)
        assert (row.starts_on, row.ends_on) == (date(2026, 1, 31), date(2027, 1, 31))
        assert row.source == "staff"
        assert row.granted_by_id == admin.id
        assert row.tier.code == "standard"
        entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "membership.granted"))
        assert entry.actor_id == admin.id
        assert entry.object_id == person.id
        assert entry.details["ends_on"] == "2027-01-31"


def test_active_membership_boundaries(app, create_user):
    person = create_user(alumni=True, status="verified")
    with app.app_context():
        user = db.session.get(User, person.id)
        assert not has_active_membership(user, on=date(2026, 6, 1))
        grant_membership(user, actor=None, months=1, starts_on=date(2026, 6, 1))
        db.session.commit()
    with app.app_context():
        user = db.session.get(User, person.id)
        assert not has_active_membership(user, on=date(2026, 5, 31))
        assert has_active_membership(user, on=date(2026, 6, 1))
        assert has_active_membership(user, on=date(2026, 6, 30))
        # ends_on is the first day no longer covered.
        assert not has_active_membership(user, on=date(2026, 7, 1))
        assert active_membership(user, on=date(2026, 6, 15)).ends_on == date(2026, 7, 1)
        assert active_membership(user, on=date(2026, 7, 1)) is None


def test_another_persons_membership_does_not_count(app, create_user):
    first = create_user(alumni=True, status="verified")
    second = create_user(alumni=True, status="verified")
    with app.app_context():
        grant_membership(db.session.get(User, first.id), actor=None)
        db.session.commit()
        assert has_active_membership(db.session.get(User, first.id))
        assert not has_active_membership(db.session.get(User, second.id))


@pytest.mark.parametrize("months", [0, -1, 121])
def test_grant_refuses_a_silly_length(app, create_user, months):
    person = create_user()
    with app.app_context(), pytest.raises(InvalidInput):
        grant_membership(db.session.get(User, person.id), actor=None, months=months)


def test_admin_grants_a_membership_from_the_user_page(
    app, client, login, create_user, seed_reference, csrf_enabled
):
    admin = create_user(roles=("admin",), locale="en")
    person = create_user(alumni=True, status="verified")
    login(client, admin)
    page = client.get(f"/admin/users/{person.id}")
    assert 'id="grant-membership"' in page.text
    assert "No active membership." in page.text
    # Without the form's CSRF token nothing is granted.
    assert (
        client.post(f"/admin/users/{person.id}/membership", data={"months": 6}).status_code == 400
    )
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post(
        f"/admin/users/{person.id}/membership",
        data={"csrf_token": token, "months": 6, "tier": "young"},
    )
    assert response.status_code == 302
    with app.app_context():
        row = db.session.scalar(select(Membership).where(Membership.user_id == person.id))
        assert row.granted_by_id == admin.id
        assert row.tier.code == "young"
        assert (row.ends_on.year * 12 + row.ends_on.month) - (
            row.starts_on.year * 12 + row.starts_on.month
        ) == 6
        assert has_active_membership(db.session.get(User, person.id))
    after = client.get(f"/admin/users/{person.id}")
    assert "Member until" in after.text


def test_grant_membership_needs_an_admin(app, client, login, create_user):
    person = create_user(alumni=True, status="verified")
    login(client, create_user(roles=("moderator",)))
    assert (
        client.post(f"/admin/users/{person.id}/membership", data={"months": 12}).status_code == 403
    )
    login(client, person)
    assert (
        client.post(f"/admin/users/{person.id}/membership", data={"months": 12}).status_code == 403
    )
    with app.app_context():
        assert db.session.scalar(select(Membership).where(Membership.user_id == person.id)) is None


def test_grant_membership_rejects_a_bad_length(app, client, login, create_user):
    person = create_user(alumni=True, status="verified")
    login(client, create_user(roles=("admin",)))
    response = client.post(f"/admin/users/{person.id}/membership", data={"months": 500})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Membership).where(Membership.user_id == person.id)) is None

"""The partner team: invitations, roles, disabling, and isolation between partners."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.security import token_digest
from partners import services
from partners.models import PartnerInvitation, PartnerMember, TeamRole

EN = {"Accept-Language": "en"}


def _invite(client, email="new@example.org", role="manager"):
    return client.post("/partners/team/invitations", data={"email": email, "role": role})


def _token_from(mail) -> str:
    return re.search(r"/partners/invitations/([A-Za-z0-9_-]+)", mail.body_text).group(1)


def _member(app, member_id: int) -> PartnerMember:
    with app.app_context():
        return db.session.get(PartnerMember, member_id)


def _invitation(app, invitation_id: int) -> PartnerInvitation:
    with app.app_context():
        return db.session.get(PartnerInvitation, invitation_id)


@pytest.fixture
def team(create_partner):
    return create_partner("Acme")


@pytest.fixture
def owner_client(client, login, team):
    return login(client, team.owner)


# ---------------------------------------------------------------- invitations


def test_the_team_page_lists_members_and_invitations(app, owner_client, team, add_member):
    user, member_id = add_member(team)
    assert _invite(owner_client, "pending@example.org").status_code == 302
    with app.app_context():
        db.session.get(PartnerMember, member_id).disabled_at = utcnow()
        db.session.commit()
    page = owner_client.get("/partners/team", headers=EN).get_data(as_text=True)
    assert f'id="member-{team.owner_member_id}"' in page
    assert f'id="member-{member_id}"' in page  # disabled members stay listed
    assert "Disabled" in page
    assert "pending@example.org" in page


def test_an_owner_invites_a_colleague(app, owner_client, team, outbox):
    response = _invite(owner_client, "New@Example.org", "owner")
    assert response.status_code == 302
    with app.app_context():
        invitation = db.session.scalar(select(PartnerInvitation))
        assert invitation.partner_id == team.partner_id
        assert invitation.email == "new@example.org"
        assert invitation.role == TeamRole.OWNER
        assert invitation.invited_by_id == team.owner.id
        lifetime = invitation.expires_at - invitation.created_at
        assert lifetime == timedelta(days=7)
    (mail,) = outbox(to="new@example.org")
    token = _token_from(mail)
    # Only the token's hash is stored.
    assert invitation.token_hash == token_digest(token)
    assert token not in invitation.token_hash


def test_invite_form_errors(app, owner_client, team, add_member):
    user, _member_id = add_member(team)
    assert _invite(owner_client, "not-an-address").status_code == 422
    assert _invite(owner_client, "x@example.org", "admin").status_code == 422
    assert _invite(owner_client, user.email).status_code == 409
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PartnerInvitation)) == 0


def test_an_invitation_is_accepted_once(app, owner_client, team, create_user, login, outbox):
    _invite(owner_client, "colleague@example.org")
    token = _token_from(outbox(to="colleague@example.org")[0])
    colleague = create_user("colleague@example.org", locale="en")
    other = create_user(locale="en")

    anonymous = app.test_client()
    page = anonymous.get(f"/partners/invitations/{token}", headers=EN)
    assert page.status_code == 200
    assert b"Acme" in page.data
    assert b"/accounts/login?next=/partners/invitations/" in page.data
    assert b'id="join"' not in page.data

    browser = login(app.test_client(), colleague)
    page = browser.get(f"/partners/invitations/{token}", headers=EN)
    assert b'id="join"' in page.data
    response = browser.post(f"/partners/invitations/{token}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/partners/dashboard")
    with app.app_context():
        member = db.session.scalar(
            select(PartnerMember).where(PartnerMember.user_id == colleague.id)
        )
        assert (member.partner_id, member.role) == (team.partner_id, TeamRole.MANAGER)
        invitation = db.session.scalar(select(PartnerInvitation))
        assert invitation.accepted_by_id == colleague.id
    assert browser.get("/partners/dashboard").status_code == 200

    # Used: a second click, or someone else, gets 410 and nothing changes.
    second = login(app.test_client(), other)
    assert second.get(f"/partners/invitations/{token}").status_code == 410
    assert second.post(f"/partners/invitations/{token}").status_code == 410
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(PartnerMember)
                .where(PartnerMember.user_id == other.id)
            )
            == 0
        )


def test_accepting_needs_a_session(app, owner_client, outbox):
    _invite(owner_client, "colleague@example.org")
    token = _token_from(outbox(to="colleague@example.org")[0])
    response = app.test_client().post(f"/partners/invitations/{token}")
    assert response.status_code == 302
    assert "/accounts/login" in response.headers["Location"]
    with app.app_context():
        assert db.session.scalar(select(PartnerInvitation)).accepted_at is None


def test_an_invitation_expires_after_7_days(app, owner_client, create_user, login, outbox):
    _invite(owner_client, "late@example.org")
    token = _token_from(outbox(to="late@example.org")[0])
    with app.app_context():
        invitation = db.session.scalar(select(PartnerInvitation))
        invitation.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    browser = login(app.test_client(), create_user())
    assert browser.get(f"/partners/invitations/{token}").status_code == 410
    assert browser.post(f"/partners/invitations/{token}").status_code == 410
    with app.app_context():
        assert db.session.scalar(select(PartnerInvitation)).accepted_at is None


def test_a_revoked_invitation_cannot_be_used(app, owner_client, create_user, login, outbox):
    _invite(owner_client, "gone@example.org")
    token = _token_from(outbox(to="gone@example.org")[0])
    with app.app_context():
        invitation_id = db.session.scalar(select(PartnerInvitation.id))
    response = owner_client.post(f"/partners/team/invitations/{invitation_id}/revoke")
    assert response.status_code == 302
    assert _invitation(app, invitation_id).revoked_at is not None
    page = owner_client.get("/partners/team").get_data(as_text=True)
    assert f'id="invitation-{invitation_id}"' not in page
    browser = login(app.test_client(), create_user())
    assert browser.post(f"/partners/invitations/{token}").status_code == 410


def test_a_wrong_token_is_400(app, create_user, login):
    browser = login(app.test_client(), create_user())
    response = browser.get("/partners/invitations/not-a-token", headers=EN)
    assert response.status_code == 400
    assert b'id="invitation-invalid"' in response.data
    assert browser.post("/partners/invitations/not-a-token").status_code == 400


# ---------------------------------------------------------------- members


def test_disabling_never_deletes(app, owner_client, team, add_member):
    _user, member_id = add_member(team)
    assert owner_client.post(f"/partners/team/members/{member_id}/disable").status_code == 302
    member = _member(app, member_id)
    assert member is not None
    assert member.disabled_at is not None
    assert owner_client.post(f"/partners/team/members/{member_id}/enable").status_code == 302
    assert _member(app, member_id).disabled_at is None


def test_a_disabled_representative_is_refused_at_the_next_request(
    app, client, login, team, add_member, create_user
):
    user, member_id = add_member(team)
    browser = login(app.test_client(), user)
    assert browser.get("/partners/dashboard").status_code == 200
    owner = login(client, team.owner)
    owner.post(f"/partners/team/members/{member_id}/disable")
    assert browser.get("/partners/dashboard").status_code == 403
    assert browser.get("/partners/team").status_code == 403


def test_you_cannot_disable_yourself(app, owner_client, team, add_member):
    add_member(team, "owner")
    response = owner_client.post(f"/partners/team/members/{team.owner_member_id}/disable")
    assert response.status_code == 409
    assert _member(app, team.owner_member_id).disabled_at is None


def test_the_last_active_owner_is_protected(app, client, login, team, add_member):
    second_owner, second_id = add_member(team, "owner")
    browser = login(client, second_owner)
    # Two owners: one may disable the other.
    assert browser.post(f"/partners/team/members/{team.owner_member_id}/disable").status_code == 302
    # second_owner is now the only active owner: they cannot step down to manager.
    response = browser.post(f"/partners/team/members/{second_id}/role", data={"role": "manager"})
    assert response.status_code == 409
    assert _member(app, second_id).role == TeamRole.OWNER
    assert _member(app, second_id).disabled_at is None


def test_services_keep_one_active_owner(app, team, create_user):
    outsider = create_user()
    with app.app_context():
        member = db.session.get(PartnerMember, team.owner_member_id)
        actor = db.session.get(type(outsider), outsider.id)
        with pytest.raises(services.TeamRuleBroken):
            services.set_member_disabled(member, actor=actor, disabled=True)
        with pytest.raises(services.TeamRuleBroken):
            services.change_member_role(member, actor=actor, role=TeamRole.MANAGER)
        assert member.disabled_at is None
        assert member.role == TeamRole.OWNER


def test_an_owner_changes_a_role(app, owner_client, team, add_member):
    _user, member_id = add_member(team)
    response = owner_client.post(f"/partners/team/members/{member_id}/role", data={"role": "owner"})
    assert response.status_code == 302
    assert _member(app, member_id).role == TeamRole.OWNER
    assert (
        owner_client.post(
            f"/partners/team/members/{member_id}/role", data={"role": "boss"}
        ).status_code
        == 422
    )


def test_a_manager_cannot_use_owner_actions(app, client, login, team, add_member):
    manager, manager_id = add_member(team)
    _other, other_id = add_member(team)
    browser = login(client, manager)
    assert browser.get("/partners/team").status_code == 200
    assert browser.get("/partners/profile").status_code == 403
    assert browser.post("/partners/profile", data={"description": "x"}).status_code == 403
    assert _invite(browser).status_code == 403
    for action in ("disable", "enable"):
        assert browser.post(f"/partners/team/members/{other_id}/{action}").status_code == 403
    response = browser.post(f"/partners/team/members/{manager_id}/role", data={"role": "owner"})
    assert response.status_code == 403
    assert _member(app, manager_id).role == TeamRole.MANAGER
    assert _member(app, other_id).disabled_at is None


# ---------------------------------------------------------------- isolation


def test_another_partners_ids_answer_404(app, client, login, team, create_partner, outbox):
    other = create_partner("Other Co")
    other_browser = login(app.test_client(), other.owner)
    _invite(other_browser, "b-invite@example.org")
    with app.app_context():
        b_invitation = db.session.scalar(
            select(PartnerInvitation.id).where(PartnerInvitation.partner_id == other.partner_id)
        )
    b_member = other.owner_member_id
    browser = login(client, team.owner)
    writes = [
        (f"/partners/team/invitations/{b_invitation}/revoke", {}),
        (f"/partners/team/members/{b_member}/disable", {}),
        (f"/partners/team/members/{b_member}/enable", {}),
        (f"/partners/team/members/{b_member}/role", {"role": "manager"}),
    ]
    for url, data in writes:
        assert browser.post(url, data=data).status_code == 404, url
    assert _invitation(app, b_invitation).revoked_at is None
    member = _member(app, b_member)
    assert (member.role, member.disabled_at) == (TeamRole.OWNER, None)
    page = browser.get("/partners/team").get_data(as_text=True)
    assert "b-invite@example.org" not in page
    assert other.owner.email not in page


def test_only_the_invited_address_can_accept(app, owner_client, team, create_user, login, outbox):
    """Whoever holds the link is not enough: another signed-in person is refused."""
    _invite(owner_client, "colleague@example.org")
    token = _token_from(outbox(to="colleague@example.org")[0])
    intruder = login(app.test_client(), create_user("intruder@example.org", locale="en"))
    page = intruder.get(f"/partners/invitations/{token}", headers=EN)
    assert page.status_code == 200
    assert b'id="join"' not in page.data
    assert b"sent to another address" in page.data
    refused = intruder.post(f"/partners/invitations/{token}", headers=EN)
    assert refused.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(PartnerInvitation)).accepted_at is None
        members = select(func.count()).select_from(PartnerMember)
        assert db.session.scalar(members.where(PartnerMember.partner_id == team.partner_id)) == 1
    # The invitation is still there for the person it was sent to (any capitals).
    colleague = create_user("Colleague@Example.org", locale="en")
    assert (
        login(app.test_client(), colleague).post(f"/partners/invitations/{token}").status_code
        == 302
    )


def test_an_unconfirmed_address_confirms_before_accepting(
    app, owner_client, team, create_user, login, outbox
):
    _invite(owner_client, "colleague@example.org")
    token = _token_from(outbox(to="colleague@example.org")[0])
    colleague = create_user("colleague@example.org", confirmed=False, locale="en")
    browser = login(app.test_client(), colleague)
    page = browser.get(f"/partners/invitations/{token}", headers=EN)
    assert b'id="join"' not in page.data
    assert b"Confirm your e-mail address" in page.data
    assert browser.post(f"/partners/invitations/{token}").status_code == 403
    with app.app_context():
        db.session.get(User, colleague.id).email_confirmed_at = utcnow()
        db.session.commit()
    assert browser.post(f"/partners/invitations/{token}").status_code == 302


def test_the_invite_form_offers_the_least_role_by_default(owner_client):
    page = owner_client.get("/partners/team").get_data(as_text=True)
    select_html = re.search(r'<select[^>]*name="role"[^>]*>(.*?)</select>', page, re.S).group(1)
    options = re.findall(r'<option([^>]*)value="(\w+)"', select_html)
    assert [value for _attrs, value in options][0] == "manager"
    assert [value for attrs, value in options if "selected" in attrs] in ([], ["manager"])

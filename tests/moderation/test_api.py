"""Moderation API: decisions on alumni with a bearer token."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marketplace.accounts.models import AlumniProfile, User, VerificationStatus
from marketplace.accounts.services import issue_api_token
from marketplace.audit import AuditLog
from marketplace.extensions import db


@pytest.fixture
def token_for(app):
    """A bearer token for a user, committed like the token endpoint would."""

    def issue(user: User) -> dict[str, str]:
        with app.app_context():
            token, _row = issue_api_token(db.session.get(User, user.id))
            db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return issue


def _url(profile_id: int, action: str) -> str:
    return f"/api/v1/moderation/members/{profile_id}/{action}"


def test_approve_returns_the_decision(app, client, moderator, token_for, create_member, outbox):
    member = create_member(locale="en")

    response = client.post(_url(member.profile_id, "approve"), headers=token_for(moderator))

    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == member.profile_id
    assert body["user_id"] == member.user_id
    assert body["status"] == "verified"
    assert body["refusal_reason"] is None
    assert body["decided_at"]
    with app.app_context():
        row = db.session.scalar(select(AuditLog).where(AuditLog.object_id == member.user_id))
        assert (row.action, row.actor_id) == ("member.approved", moderator.id)
    (mail,) = outbox(to=member.email)
    assert mail.subject == "Your alumni status is verified"


def test_reject_with_a_reason(app, client, moderator, token_for, create_member, outbox):
    member = create_member()
    response = client.post(
        _url(member.profile_id, "reject"),
        json={"reason": "duplicate", "message": "You already have an account.", "status": "x"},
        headers=token_for(moderator),
    )
    assert response.status_code == 200
    assert response.get_json()["status"] == "refused"
    assert response.get_json()["refusal_reason"] == "duplicate"
    with app.app_context():
        profile = db.session.get(AlumniProfile, member.profile_id)
        assert profile.moderator_message == "You already have an account."
    assert [m.template for m in outbox(to=member.email)] == ["moderation/member_refused"]


def test_request_changes_with_a_message(app, client, admin, token_for, create_member):
    member = create_member()
    response = client.post(
        _url(member.profile_id, "request-changes"),
        json={"message": "Send a diploma."},
        headers=token_for(admin),
    )
    assert response.status_code == 200
    assert response.get_json()["status"] == "info_requested"
    with app.app_context():
        row = db.session.scalar(select(AuditLog).where(AuditLog.object_id == member.user_id))
        assert (row.action, row.actor_id) == ("member.info_requested", admin.id)


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("reject", {}, "reason"),
        ("reject", {"reason": "because"}, "reason"),
        ("reject", {"reason": None}, "reason"),
        ("request-changes", {}, "message"),
        ("request-changes", {"message": "   "}, "message"),
        ("request-changes", {"message": "x" * 2001}, "message"),
    ],
)
def test_invalid_bodies_are_422_and_change_nothing(
    app, client, moderator, token_for, create_member, outbox, action, body, field
):
    member = create_member()

    response = client.post(_url(member.profile_id, action), json=body, headers=token_for(moderator))

    assert response.status_code == 422
    error = response.get_json()
    assert error["code"] == 422
    assert field in error["errors"]["json"]
    with app.app_context():
        assert db.session.get(AlumniProfile, member.profile_id).status == "pending"
        assert db.session.scalars(select(AuditLog)).all() == []
    assert outbox() == []


@pytest.mark.parametrize(
    ("status", "action", "body"),
    [
        ("verified", "approve", {}),
        ("verified", "reject", {"reason": "duplicate"}),
        ("refused", "reject", {"reason": "duplicate"}),
        ("info_requested", "request-changes", {"message": "Again?"}),
    ],
)
def test_a_decision_the_status_does_not_allow_is_409(
    app, client, moderator, token_for, create_member, status, action, body
):
    member = create_member(status=status)
    response = client.post(_url(member.profile_id, action), json=body, headers=token_for(moderator))
    assert response.status_code == 409
    assert response.get_json()["code"] == 409
    with app.app_context():
        assert db.session.get(AlumniProfile, member.profile_id).status == VerificationStatus(status)


@pytest.mark.parametrize("action", ["approve", "reject", "request-changes"])
def test_unknown_member_is_404(client, moderator, token_for, action):
    response = client.post(
        _url(999999, action),
        json={"reason": "duplicate", "message": "Hello"},
        headers=token_for(moderator),
    )
    assert response.status_code == 404
    assert response.get_json()["code"] == 404


@pytest.mark.parametrize("action", ["approve", "reject", "request-changes"])
@pytest.mark.parametrize(
    ("who", "expected"), [("anonymous", 401), ("alumnus", 403), ("treasurer", 403)]
)
def test_api_access_table(
    app, client, create_user, token_for, create_member, action, who, expected
):
    member = create_member()
    headers = {}
    if who == "alumnus":
        headers = token_for(create_user(alumni=True, status="verified"))
    elif who == "treasurer":
        headers = token_for(create_user(roles=("treasurer",)))
    # Even a bad body: the caller is checked first.
    response = client.post(_url(member.profile_id, action), json={}, headers=headers)
    assert response.status_code == expected
    with app.app_context():
        assert db.session.get(AlumniProfile, member.profile_id).status == "pending"


def test_a_revoked_or_unknown_token_is_401(client, create_member):
    member = create_member()
    response = client.post(
        _url(member.profile_id, "approve"), headers={"Authorization": "Bearer not-a-token"}
    )
    assert response.status_code == 401


def test_a_browser_session_cannot_decide_through_the_api(
    app, client, login, moderator, create_member
):
    # The API is exempt from CSRF, so a session cookie alone must not change state.
    member = create_member()
    login(client, moderator)
    response = client.post(_url(member.profile_id, "approve"))
    assert response.status_code == 401
    with app.app_context():
        assert db.session.get(AlumniProfile, member.profile_id).status == "pending"


def test_the_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for action in ("approve", "reject", "request-changes"):
        operation = paths[f"/api/v1/moderation/members/{{profile_id}}/{action}"]["post"]
        assert {"200", "401", "403", "404", "409"} <= set(operation["responses"])
        assert operation["security"] == [{"bearer": []}]

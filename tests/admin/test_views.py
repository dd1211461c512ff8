"""Admin pages: the user list, a user's roles and state, two-factor resets, the audit log."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from marketplace import audit
from marketplace.accounts import second_factor
from marketplace.accounts import services as accounts
from marketplace.accounts.models import RecoveryCode, User, UserRole
from marketplace.audit import AuditLog
from marketplace.extensions import db
from tests.conftest import PASSWORD, totp_now

ROW = re.compile(rb'<tr id="user-(\d+)"')
AUDIT_ROW = re.compile(rb'<tr id="audit-(\d+)"')


def listed_ids(response) -> list[int]:
    return [int(found) for found in ROW.findall(response.data)]


def audit_entries(app, action: str | None = None) -> list[AuditLog]:
    with app.app_context():
        query = select(AuditLog).order_by(AuditLog.id)
        if action:
            query = query.where(AuditLog.action == action)
        return list(db.session.scalars(query))


def fresh(app, user_id: int) -> User:
    """The user as stored now, roles loaded, detached."""
    with app.app_context():
        user = db.session.get(User, user_id)
        user.roles  # noqa: B018 - load the roles before the session closes
        return user


# ---------------------------------------------------------------- access


ROUTES = [
    ("GET", "/admin/users"),
    ("GET", "/admin/users/{id}"),
    ("GET", "/admin/audit"),
    ("POST", "/admin/users/{id}/roles"),
    ("POST", "/admin/users/{id}/disable"),
    ("POST", "/admin/users/{id}/enable"),
    ("POST", "/admin/users/{id}/two-factor/reset"),
]


@pytest.mark.parametrize(("method", "route"), ROUTES)
@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", 302),
        ("alumnus", 403),
        ("moderator", 403),
        ("treasurer", 403),
        ("admin without two-factor", 302),
    ],
)
def test_only_admins_past_two_factor_reach_admin_pages(
    app, client, create_user, login, method, route, who, expected
):
    target = create_user("target@example.org", alumni=True, status="verified")
    if who == "alumnus":
        login(client, create_user(alumni=True, status="verified"), mfa=False)
    elif who in {"moderator", "treasurer"}:
        login(client, create_user(roles=(who,)))
    elif who == "admin without two-factor":
        login(client, create_user(roles=("admin",)), mfa=False)
    url = route.format(id=target.id)
    response = client.open(url, method=method, data={"role": "admin", "action": "grant"})
    assert response.status_code == expected
    if who == "anonymous":
        assert "/accounts/login" in response.headers["Location"]
    if who == "admin without two-factor":
        assert "/accounts/two-factor" in response.headers["Location"]
    # Nothing changed for the target.
    stored = fresh(app, target.id)
    assert stored.roles == set()
    assert stored.is_active
    assert audit_entries(app) == []


def test_an_admin_reaches_every_admin_page(admin_client, create_user):
    person = create_user(alumni=True, status="verified")
    for url in ("/admin/users", f"/admin/users/{person.id}", "/admin/audit"):
        assert admin_client.get(url).status_code == 200, url


def test_unknown_user_is_404(admin_client):
    assert admin_client.get("/admin/users/999999").status_code == 404
    response = admin_client.post(
        "/admin/users/999999/roles", data={"role": "moderator", "action": "grant"}
    )
    assert response.status_code == 404


# ---------------------------------------------------------------- user list


def test_user_list_shows_name_email_roles_status_and_date(admin_client, create_user, school):
    alumnus = create_user(
        "lea@example.org", full_name="Léa Moreau", alumni=True, status="verified", school=school
    )
    create_user("tom@example.org", full_name="Tom Staff", roles=("moderator", "treasurer"))
    response = admin_client.get("/admin/users")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    row = html.split(f'<tr id="user-{alumnus.id}"')[1].split("</tr>")[0]
    assert "Léa Moreau" in row
    assert "lea@example.org" in row
    assert 'data-status="verified"' in row
    assert f'datetime="{alumnus.created_at.isoformat()}"' in row
    assert 'data-role="moderator"' in html
    assert 'data-role="treasurer"' in html
    assert "3 users" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "moreau"}, {"lea"}),
        ({"q": "TOM@EXAMPLE"}, {"tom"}),
        ({"q": "100%"}, set()),
        ({"role": "moderator"}, {"tom"}),
        ({"role": "treasurer"}, set()),
        ({"role": "staff"}, {"tom", "root"}),
        ({"role": "admin"}, {"root"}),
        ({"role": "none"}, {"lea", "off"}),
        ({"state": "disabled"}, {"off"}),
        ({"state": "active", "role": "none"}, {"lea"}),
        ({"role": "not-a-role"}, {"lea", "tom", "off", "root"}),
    ],
)
def test_user_list_filters(app, admin_client, admin, create_user, query, expected):
    people = {
        "root": admin,
        "lea": create_user("lea@example.org", full_name="Léa Moreau", alumni=True),
        "tom": create_user("tom@example.org", full_name="Tom Staff", roles=("moderator",)),
        "off": create_user("off@example.org", full_name="Olivia Off"),
    }
    with app.app_context():
        accounts.set_disabled(db.session.get(User, people["off"].id), True, actor=None)
        db.session.commit()
    response = admin_client.get("/admin/users", query_string=query)
    assert response.status_code == 200
    assert set(listed_ids(response)) == {people[name].id for name in expected}
    if not expected:
        assert b'id="no-users"' in response.data


def test_user_list_is_paginated_and_keeps_the_filters(admin_client, create_user):
    for number in range(55):
        create_user(f"member{number:02d}@example.org", full_name=f"Member {number:02d}")
    first = admin_client.get("/admin/users", query_string={"q": "member"})
    second = admin_client.get("/admin/users", query_string={"q": "member", "page": 2})
    beyond = admin_client.get("/admin/users", query_string={"q": "member", "page": 9})
    assert len(listed_ids(first)) == 50
    assert len(listed_ids(second)) == 5
    assert set(listed_ids(first)).isdisjoint(listed_ids(second))
    assert listed_ids(beyond) == listed_ids(second)
    assert b"/admin/users?page=2&amp;q=member" in first.data
    assert b"Page 1 of 2" in first.data
    # Newest first.
    assert b"Member 54" in first.data
    assert b"Member 00" in second.data


def test_user_list_runs_the_same_queries_for_1_or_30_users(
    admin_client, create_user, count_selects, school
):
    def make(number: int) -> None:
        create_user(
            f"person{number}@example.org",
            alumni=number % 3 != 0,
            status="verified" if number % 2 else "pending",
            school=school,
            roles=("moderator",) if number % 4 == 0 else (),
        )

    make(0)
    with count_selects() as with_one:
        response = admin_client.get("/admin/users")
    assert len(listed_ids(response)) == 2  # the admin and one person

    for number in range(1, 30):
        make(number)
    with count_selects() as with_thirty:
        response = admin_client.get("/admin/users")
    assert len(listed_ids(response)) == 31
    assert response.data.count(b"data-status=") == 20

    assert len(with_one) == len(with_thirty)
    assert len(with_thirty) <= 8


def test_empty_search_says_so(admin_client):
    response = admin_client.get("/admin/users", query_string={"q": "nobody-at-all"})
    assert b'id="no-users"' in response.data
    assert b"No user matches these filters." in response.data


# ---------------------------------------------------------------- user page and roles


def test_user_page_shows_profile_roles_and_two_factor(admin_client, create_user, school):
    person = create_user(
        "page@example.org",
        full_name="Paul Page",
        alumni=True,
        status="verified",
        roles=("treasurer",),
        school=school,
    )
    html = admin_client.get(f"/admin/users/{person.id}").get_data(as_text=True)
    assert "Paul Page" in html
    assert "Lycée français Charles Lepierre" in html
    treasurer_row = html.split('id="role-treasurer"')[1].split("</tr>")[0]
    assert 'value="revoke"' in treasurer_row
    moderator_row = html.split('id="role-moderator"')[1].split("</tr>")[0]
    assert 'value="grant"' in moderator_row
    assert "Active since" in html.split('id="two-factor-state"')[1]
    assert 'id="reset-two-factor"' in html
    assert 'id="disable-user"' in html


def test_admin_page_of_oneself_has_no_disable_button(admin_client, admin):
    html = admin_client.get(f"/admin/users/{admin.id}").get_data(as_text=True)
    assert 'id="disable-user"' not in html


def test_grant_role_is_saved_and_audited(app, admin_client, admin, create_user):
    person = create_user("new-mod@example.org", full_name="Nora New")
    response = admin_client.post(
        f"/admin/users/{person.id}/roles",
        data={"role": "moderator", "action": "grant"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert b"Nora New is now Moderator." in response.data
    assert fresh(app, person.id).roles == {"moderator"}
    with app.app_context():
        row = db.session.scalar(select(UserRole).where(UserRole.user_id == person.id))
        assert row.granted_by_id == admin.id
    entries = audit_entries(app, "role.granted")
    assert [(e.actor_id, e.object_id, e.details) for e in entries] == [
        (admin.id, person.id, {"role": "moderator"})
    ]


def test_revoke_role_is_saved_and_audited(app, admin_client, admin, create_user):
    person = create_user("old-mod@example.org", roles=("moderator", "treasurer"))
    response = admin_client.post(
        f"/admin/users/{person.id}/roles", data={"role": "moderator", "action": "revoke"}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/admin/users/{person.id}")
    assert fresh(app, person.id).roles == {"treasurer"}
    entries = audit_entries(app, "role.revoked")
    assert [(e.actor_id, e.object_id, e.details) for e in entries] == [
        (admin.id, person.id, {"role": "moderator"})
    ]


@pytest.mark.parametrize(
    "data", [{"role": "superuser", "action": "grant"}, {"role": "admin", "action": "delete"}, {}]
)
def test_bad_role_form_changes_nothing(app, admin_client, create_user, data):
    person = create_user()
    response = admin_client.post(
        f"/admin/users/{person.id}/roles", data=data, follow_redirects=True
    )
    assert b"Choose a role and an action." in response.data
    assert fresh(app, person.id).roles == set()
    assert audit_entries(app) == []


def test_the_last_admin_keeps_the_admin_role(app, admin_client, admin):
    response = admin_client.post(
        f"/admin/users/{admin.id}/roles",
        data={"role": "admin", "action": "revoke"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert b"This is the last active administrator" in response.data
    assert fresh(app, admin.id).roles == {"admin"}
    assert audit_entries(app) == []


def test_a_disabled_admin_does_not_count_as_another_admin(app, admin_client, admin, create_user):
    dormant = create_user("dormant@example.org", roles=("admin",))
    with app.app_context():
        accounts.set_disabled(db.session.get(User, dormant.id), True, actor=None)
        db.session.commit()
    admin_client.post(f"/admin/users/{admin.id}/roles", data={"role": "admin", "action": "revoke"})
    assert fresh(app, admin.id).roles == {"admin"}


def test_an_admin_may_leave_when_another_admin_remains(app, admin_client, admin, create_user):
    create_user("second@example.org", roles=("admin",))
    admin_client.post(f"/admin/users/{admin.id}/roles", data={"role": "admin", "action": "revoke"})
    assert fresh(app, admin.id).roles == set()
    # The change applies at once: the next admin page is refused.
    assert admin_client.get("/admin/users").status_code == 403


def test_a_revoked_moderator_is_refused_at_the_next_request(app, admin_client, create_user, login):
    moderator = create_user("mod@example.org", roles=("moderator",))
    moderator_client = login(app.test_client(), moderator)
    assert moderator_client.get("/moderation/members").status_code == 200

    admin_client.post(
        f"/admin/users/{moderator.id}/roles", data={"role": "moderator", "action": "revoke"}
    )
    assert moderator_client.get("/moderation/members").status_code == 403


def test_a_granted_role_applies_at_the_next_request_after_two_factor(
    app, admin_client, create_user, login
):
    person = create_user("soon-admin@example.org", totp=True)
    person_client = login(app.test_client(), person, mfa=True)
    assert person_client.get("/admin/users").status_code == 403
    admin_client.post(f"/admin/users/{person.id}/roles", data={"role": "admin", "action": "grant"})
    assert person_client.get("/admin/users").status_code == 200


# ---------------------------------------------------------------- disable / enable


def test_disable_ends_sessions_and_is_audited(app, admin_client, admin, create_user, login):
    other_admin = create_user("other-admin@example.org", roles=("admin",))
    other_client = login(app.test_client(), other_admin)
    assert other_client.get("/admin/users").status_code == 200
    version = other_admin.session_version

    response = admin_client.post(f"/admin/users/{other_admin.id}/disable", follow_redirects=True)
    assert b"The account is disabled" in response.data
    stored = fresh(app, other_admin.id)
    assert stored.disabled_at is not None
    assert stored.session_version == version + 1
    assert [(e.actor_id, e.object_id) for e in audit_entries(app, "user.disabled")] == [
        (admin.id, other_admin.id)
    ]
    # The disabled person's next request is anonymous.
    response = other_client.get("/admin/users")
    assert response.status_code == 302
    assert "/accounts/login" in response.headers["Location"]
    # ... and their password no longer gets an API token.
    token = app.test_client().post(
        "/api/v1/tokens",
        json={"email": "other-admin@example.org", "password": PASSWORD, "otp": totp_now()},
    )
    assert token.status_code == 401


def test_enable_is_saved_and_audited(app, admin_client, admin, create_user):
    person = create_user("back@example.org")
    with app.app_context():
        accounts.set_disabled(db.session.get(User, person.id), True, actor=None)
        db.session.commit()
    response = admin_client.post(f"/admin/users/{person.id}/enable", follow_redirects=True)
    assert b"The account is enabled again." in response.data
    assert fresh(app, person.id).disabled_at is None
    assert [(e.actor_id, e.object_id) for e in audit_entries(app, "user.enabled")] == [
        (admin.id, person.id)
    ]


def test_an_admin_cannot_disable_themselves(app, admin_client, admin, create_user):
    create_user("second@example.org", roles=("admin",))
    response = admin_client.post(f"/admin/users/{admin.id}/disable", follow_redirects=True)
    assert response.status_code == 200
    assert b"You cannot disable your own account." in response.data
    stored = fresh(app, admin.id)
    assert stored.is_active
    assert stored.session_version == admin.session_version
    assert audit_entries(app) == []


# ---------------------------------------------------------------- two-factor reset


def test_reset_two_factor_clears_it_and_is_audited(app, admin_client, admin, create_user, login):
    moderator = create_user("lost-phone@example.org", roles=("moderator",))
    with app.app_context():
        second_factor.new_recovery_codes(db.session.get(User, moderator.id))
        db.session.commit()
    moderator_client = login(app.test_client(), moderator)
    assert moderator_client.get("/moderation/members").status_code == 200

    response = admin_client.post(
        f"/admin/users/{moderator.id}/two-factor/reset", follow_redirects=True
    )
    assert b"Two-factor authentication was reset" in response.data
    stored = fresh(app, moderator.id)
    assert stored.totp_secret is None
    assert stored.totp_enabled_at is None
    assert stored.totp_last_step is None
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(RecoveryCode)
                .where(RecoveryCode.user_id == moderator.id)
            )
            == 0
        )
    assert [(e.actor_id, e.object_id) for e in audit_entries(app, "totp.reset")] == [
        (admin.id, moderator.id)
    ]
    # The old session is over, and a new sign-in must enrol again first.
    assert moderator_client.get("/moderation/members").status_code == 302
    token = app.test_client().post(
        "/api/v1/tokens",
        json={"email": "lost-phone@example.org", "password": PASSWORD, "otp": totp_now()},
    )
    assert token.status_code == 403
    assert token.get_json()["errors"] == {"reason": "otp_not_enrolled"}


def test_reset_two_factor_without_two_factor_is_refused(app, admin_client, create_user):
    person = create_user("plain@example.org")
    response = admin_client.post(
        f"/admin/users/{person.id}/two-factor/reset", follow_redirects=True
    )
    assert b"Two-factor authentication is not set up for this account." in response.data
    assert audit_entries(app) == []


def test_admin_writes_need_a_csrf_token(app, admin_client, create_user, csrf_enabled):
    person = create_user("csrf@example.org")
    for url, data in [
        (f"/admin/users/{person.id}/roles", {"role": "admin", "action": "grant"}),
        (f"/admin/users/{person.id}/disable", {}),
    ]:
        assert admin_client.post(url, data=data).status_code == 400
    stored = fresh(app, person.id)
    assert stored.roles == set()
    assert stored.is_active


# ---------------------------------------------------------------- audit log


def _record(app, action: str, actor: User | None, target: User, **details) -> None:
    with app.app_context():
        audit.record(
            action,
            actor=db.session.get(User, actor.id) if actor else None,
            object_type="user",
            object_id=target.id,
            **details,
        )
        db.session.commit()


def test_audit_log_is_newest_first_with_actor_and_object(app, admin_client, admin, create_user):
    person = create_user("subject@example.org")
    _record(app, "role.granted", admin, person, role="moderator")
    _record(app, "user.disabled", admin, person)
    _record(app, "member.verified_by_roster", None, person, roster_entry=7)
    response = admin_client.get("/admin/audit")
    html = response.get_data(as_text=True)
    ids = [int(found) for found in AUDIT_ROW.findall(response.data)]
    entries = audit_entries(app)
    assert ids == [entry.id for entry in reversed(entries)]
    first_row = html.split(f'<tr id="audit-{entries[0].id}"')[1].split("</tr>")[0]
    assert "root@example.org" in first_row
    assert "subject@example.org" in first_row
    assert "moderator" in first_row
    assert "3 entries" in html


def test_audit_log_filters_by_action_and_actor(app, admin_client, admin, create_user):
    other = create_user("helper@example.org", roles=("admin",))
    person = create_user("subject@example.org")
    _record(app, "role.granted", admin, person, role="treasurer")
    _record(app, "role.granted", other, person, role="moderator")
    _record(app, "user.disabled", other, person)
    entries = audit_entries(app)

    def ids(**query) -> set[int]:
        response = admin_client.get("/admin/audit", query_string=query)
        assert response.status_code == 200
        return {int(found) for found in AUDIT_ROW.findall(response.data)}

    assert ids(action="role.granted") == {entries[0].id, entries[1].id}
    assert ids(actor="HELPER@") == {entries[1].id, entries[2].id}
    assert ids(action="role.granted", actor="root@example.org") == {entries[0].id}
    assert ids(action="no.such.action") == {entry.id for entry in entries}
    empty = admin_client.get("/admin/audit", query_string={"actor": "nobody"})
    assert b'id="no-entries"' in empty.data


def test_audit_log_is_paginated(app, admin_client, admin, create_user):
    person = create_user()
    for number in range(51):
        _record(app, "role.granted", admin, person, n=number)
    first = admin_client.get("/admin/audit", query_string={"action": "role.granted"})
    second = admin_client.get("/admin/audit", query_string={"action": "role.granted", "page": 2})
    assert len(AUDIT_ROW.findall(first.data)) == 50
    assert len(AUDIT_ROW.findall(second.data)) == 1
    assert b"action=role.granted" in first.data


def test_audit_log_runs_the_same_queries_for_1_or_30_entries(
    app, admin_client, admin, create_user, count_selects
):
    people = [create_user(f"p{number}@example.org") for number in range(30)]
    _record(app, "role.granted", admin, people[0], role="moderator")
    with count_selects() as with_one:
        response = admin_client.get("/admin/audit")
    assert len(AUDIT_ROW.findall(response.data)) == 1

    for number, person in enumerate(people[1:], start=1):
        _record(app, f"action.{number % 5}", admin if number % 2 else None, person)
    with count_selects() as with_thirty:
        response = admin_client.get("/admin/audit")
    assert len(AUDIT_ROW.findall(response.data)) == 30

    assert len(with_one) == len(with_thirty)
    assert len(with_thirty) <= 8


def test_empty_audit_log_says_so(admin_client):
    response = admin_client.get("/admin/audit")
    assert b'id="no-entries"' in response.data
    assert b"The audit log is empty." in response.data

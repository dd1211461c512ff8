"""Moderation pages: access, the queue, one member's file, the evidence download, roster import."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from marketplace.accounts.models import AlumniProfile, RosterEntry, User, VerificationStatus
from marketplace.audit import AuditLog
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.notifications.models import OutboxMessage

# ---------------------------------------------------------------- access


@pytest.fixture
def routes(create_member, app):
    """Every moderation page route, with a member (that has an evidence file) to point at."""
    member = create_member()
    with app.app_context():
        profile = db.session.get(AlumniProfile, member.profile_id)
        folder = Path(app.config["UPLOAD_FOLDER"]) / "evidence"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "access-test.pdf").write_bytes(b"%PDF-1.4 test")
        profile.evidence_filename = "access-test.pdf"
        profile.evidence_content_type = "application/pdf"
        db.session.commit()
    pid = member.profile_id
    return {
        "queue": "/moderation/members",
        "member": f"/moderation/members/{pid}",
        "evidence": f"/moderation/members/{pid}/evidence",
        "roster": "/moderation/roster",
        "member_id": pid,
    }


PAGES = ["queue", "member", "evidence", "roster"]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", 302),
        ("alumnus", 403),
        ("staff_other", 403),
        ("moderator", 200),
        ("admin", 200),
    ],
)
def test_page_access_table(client, create_user, login, routes, page, who, expected):
    if who == "alumnus":
        login(client, create_user(alumni=True, status="verified"), mfa=False)
    elif who == "staff_other":
        login(client, create_user(roles=("treasurer",)))
    elif who in {"moderator", "admin"}:
        login(client, create_user(roles=(who,)))
    response = client.get(routes[page])
    response.close()  # the evidence download streams a file
    assert response.status_code == expected
    if who == "anonymous":
        assert "/accounts/login" in response.headers["Location"]


WRITES = [
    ("approve", {}),
    ("refuse", {"refuse-reason": "duplicate"}),
    ("request-info", {"info-message": "Which class were you in?"}),
]


@pytest.mark.parametrize(("action", "data"), WRITES)
@pytest.mark.parametrize(("who", "expected"), [("anonymous", 302), ("alumnus", 403)])
def test_decisions_are_refused_to_non_staff(
    client, create_user, login, routes, profile_of, create_member, action, data, who, expected
):
    if who == "alumnus":
        login(client, create_user(alumni=True, status="verified"), mfa=False)
    response = client.post(f"/moderation/members/{routes['member_id']}/{action}", data=data)
    assert response.status_code == expected
    bulk = client.post(
        "/moderation/members/bulk",
        data={"profile_ids": [routes["member_id"]], "decision": "approve"},
    )
    assert bulk.status_code == expected
    roster = client.post(
        "/moderation/roster",
        data={"file": (io.BytesIO(b"name,email,school,year\n"), "r.csv")},
        content_type="multipart/form-data",
    )
    assert roster.status_code == expected
    with client.application.app_context():
        profile = db.session.get(AlumniProfile, routes["member_id"])
        assert profile.status == VerificationStatus.PENDING
        assert db.session.scalars(select(AuditLog)).all() == []


@pytest.mark.parametrize("page", PAGES)
def test_staff_session_without_two_factor_is_sent_to_it(client, login, moderator, routes, page):
    login(client, moderator, mfa=False)
    response = client.get(routes[page])
    assert response.status_code == 302
    assert "/accounts/two-factor" in response.headers["Location"]


def test_staff_decision_without_two_factor_changes_nothing(
    client, login, moderator, routes, profile_of, create_member
):
    login(client, moderator, mfa=False)
    response = client.post(f"/moderation/members/{routes['member_id']}/approve")
    assert "/accounts/two-factor" in response.headers["Location"]
    with client.application.app_context():
        assert db.session.get(AlumniProfile, routes["member_id"]).status == "pending"


def test_decisions_need_a_csrf_token(client, login, moderator, create_member, csrf_enabled):
    member = create_member()
    login(client, moderator)
    response = client.post(f"/moderation/members/{member.profile_id}/approve")
    assert response.status_code == 400
    with client.application.app_context():
        profile = db.session.get(AlumniProfile, member.profile_id)
        assert profile.status == VerificationStatus.PENDING


# ---------------------------------------------------------------- queue


def _submitted(app, member, days_ago: int) -> None:
    with app.app_context():
        profile = db.session.get(AlumniProfile, member.profile_id)
        profile.submitted_at = utcnow() - timedelta(days=days_ago)
        db.session.commit()


def test_queue_lists_confirmed_pending_members_oldest_first(
    app, client, login, moderator, create_member
):
    newer = create_member("newer@example.org")
    older = create_member("older@example.org")
    _submitted(app, newer, 1)
    _submitted(app, older, 5)
    create_member("unconfirmed@example.org", confirmed=False)
    create_member("verified@example.org", status="verified")
    create_member("asked@example.org", status="info_requested")
    login(client, moderator)

    html = client.get("/moderation/members").get_data(as_text=True)

    assert "older@example.org" in html
    assert html.index("older@example.org") < html.index("newer@example.org")
    for hidden in ("unconfirmed@example.org", "verified@example.org", "asked@example.org"):
        assert hidden not in html
    assert f'name="profile_ids" value="{older.profile_id}"' in html


def test_queue_empty_state(client, login, moderator, create_member):
    create_member(status="verified")
    login(client, moderator)
    response = client.get("/moderation/members")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="queue-empty"' in html
    assert "Nothing to verify" in html
    assert 'id="bulk-form"' not in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=refused", {"refused@example.org"}),
        ("status=all", {"a@example.org", "b@example.org", "refused@example.org"}),
        (
            "status=all&unconfirmed=y",
            {"a@example.org", "b@example.org", "refused@example.org", "unconfirmed@example.org"},
        ),
        ("year=1999", {"b@example.org"}),
        ("country=br", {"b@example.org"}),
        ("q=DURAND", {"b@example.org"}),
        ("q=a%40example", {"a@example.org"}),
        ("q=100%25", set()),
        ("year=abc", {"a@example.org", "b@example.org"}),
    ],
)
def test_queue_filters(app, client, login, moderator, create_member, query, expected):
    create_member("a@example.org", full_name="Anne Dupont")
    b = create_member("b@example.org", full_name="Zoé Durand", graduation_year=1999)
    with app.app_context():
        db.session.get(AlumniProfile, b.profile_id).country = "BR"
        db.session.commit()
    create_member("refused@example.org", status="refused")
    create_member("unconfirmed@example.org", confirmed=False)
    login(client, moderator)

    html = client.get(f"/moderation/members?{query}").get_data(as_text=True)

    everyone = {"a@example.org", "b@example.org", "refused@example.org", "unconfirmed@example.org"}
    assert {email for email in everyone if email in html} == expected


def test_queue_filters_by_school(client, login, moderator, create_member, create_school):
    other = create_school(name="Lycée Molière")
    create_member("lisbon@example.org")
    create_member("moliere@example.org", school=other)
    login(client, moderator)
    html = client.get(f"/moderation/members?school={other.id}").get_data(as_text=True)
    assert "moliere@example.org" in html
    assert "lisbon@example.org" not in html


def test_queue_is_paginated_by_fifty(app, client, login, moderator, create_member):
    members = [create_member(f"m{i:02d}@example.org") for i in range(51)]
    for days, member in enumerate(reversed(members)):
        _submitted(app, member, days + 1)
    login(client, moderator)
    first = client.get("/moderation/members").get_data(as_text=True)
    second = client.get("/moderation/members?page=2").get_data(as_text=True)
    assert "m00@example.org" in first
    assert "m49@example.org" in first
    assert "m50@example.org" not in first
    assert "m50@example.org" in second
    assert "m00@example.org" not in second
    assert 'rel="next"' in first


def test_queue_runs_a_fixed_number_of_queries(
    app, client, login, moderator, create_member, count_queries, create_school
):
    create_member(school=create_school())
    login(client, moderator)
    client.get("/moderation/members")  # warm-up: nothing cached may hide a query

    with count_queries() as one_row:
        assert client.get("/moderation/members").status_code == 200
    for _ in range(29):
        create_member(school=create_school())
    with count_queries() as thirty_rows:
        html = client.get("/moderation/members").get_data(as_text=True)

    assert html.count('name="profile_ids"') == 30
    assert len(one_row) == len(thirty_rows), thirty_rows


# ---------------------------------------------------------------- bulk


def test_bulk_refusal_from_the_queue(app, client, login, moderator, create_member, outbox):
    members = [create_member() for _ in range(3)]
    verified = create_member(status="verified")
    login(client, moderator)

    response = client.post(
        "/moderation/members/bulk?status=all",
        data={
            "profile_ids": [m.profile_id for m in [*members, verified]],
            "decision": "refuse",
            "reason": "evidence_insufficient",
            "message": "Please register again with a diploma.",
        },
    )

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/moderation/members?status=all")
    with app.app_context():
        statuses = {db.session.get(AlumniProfile, m.profile_id).status for m in members}
        assert statuses == {VerificationStatus.REFUSED}
        rows = db.session.scalars(select(AuditLog).where(AuditLog.action == "member.refused"))
        assert {(r.object_id, r.actor_id) for r in rows} == {
            (m.user_id, moderator.id) for m in members
        }
    assert all(len(outbox(to=m.email)) == 1 for m in members)
    assert outbox(to=verified.email) == []
    page = client.get("/moderation/members?status=all").get_data(as_text=True)
    assert "3 members decided." in page
    assert "1 member skipped" in page


@pytest.mark.parametrize(
    "data",
    [
        {"decision": "refuse"},
        {"decision": "refuse", "reason": "nope"},
        {"decision": "request_info", "message": "  "},
        {"decision": "erase"},
        {},
    ],
)
def test_bulk_with_bad_input_rerenders_and_changes_nothing(
    app, client, login, moderator, create_member, outbox, data
):
    members = [create_member() for _ in range(2)]
    login(client, moderator)
    ids = [m.profile_id for m in members]

    response = client.post("/moderation/members/bulk", data={"profile_ids": ids, **data})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert html.count('class="field-error"') == 1
    # The ticked rows stay ticked.
    assert f'value="{ids[0]}" id="select-{ids[0]}"' in html
    assert html.count("checked") >= 2
    with app.app_context():
        assert {db.session.get(AlumniProfile, i).status for i in ids} == {"pending"}
    assert outbox() == []


def test_bulk_without_ticked_rows_is_an_error(client, login, moderator, create_member):
    create_member()
    login(client, moderator)
    response = client.post("/moderation/members/bulk", data={"decision": "approve"})
    assert response.status_code == 422
    assert "Tick at least one member." in response.get_data(as_text=True)


# ---------------------------------------------------------------- one member


def test_member_page_shows_declared_data_roster_hint_answer_and_history(
    app, client, login, moderator, create_member, school
):
    member = create_member("camille@example.org", full_name="Camille Martin", locale="en")
    with app.app_context():
        db.session.add(
            RosterEntry(
                full_name="Camille Martin",
                email="camille@example.org",
                school_id=school.id,
                graduation_year=2015,
            )
        )
        db.session.commit()
    login(client, moderator)
    client.post(
        f"/moderation/members/{member.profile_id}/request-info",
        data={"info-message": "Which year did you graduate?"},
    )
    with app.test_request_context():
        from marketplace.accounts.services import answer_info_request

        answer_info_request(db.session.get(User, member.user_id), answer="In 2015, class B.")
        db.session.commit()

    html = client.get(f"/moderation/members/{member.profile_id}").get_data(as_text=True)

    assert "camille@example.org" in html
    assert school.name in html
    assert 'id="roster-hint"' in html
    assert "same school" in html
    assert "Which year did you graduate?" in html
    assert "In 2015, class B." in html
    assert "Information requested" in html
    assert "Morgane Roux" in html
    assert "The member answered" in html
    for form in ("approve-form", "refuse-form", "info-form"):
        assert f'id="{form}"' in html


def test_member_page_for_an_unknown_id_is_404(client, login, moderator):
    login(client, moderator)
    assert client.get("/moderation/members/999999").status_code == 404
    assert client.post("/moderation/members/999999/approve").status_code == 404


def test_approve_from_the_member_page(app, client, login, moderator, create_member, outbox):
    member = create_member()
    login(client, moderator)

    response = client.post(f"/moderation/members/{member.profile_id}/approve")

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/moderation/members/{member.profile_id}")
    with app.app_context():
        profile = db.session.get(AlumniProfile, member.profile_id)
        assert profile.status == VerificationStatus.VERIFIED
        assert profile.decided_by_id == moderator.id
    assert [m.template for m in outbox(to=member.email)] == ["moderation/member_approved"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "is now a verified alumnus" in page
    assert 'id="approve-form"' not in page


def test_refuse_from_the_member_page(app, client, login, moderator, create_member, outbox):
    member = create_member(locale="en")
    login(client, moderator)
    response = client.post(
        f"/moderation/members/{member.profile_id}/refuse",
        data={"refuse-reason": "not_in_network", "refuse-message": "Sorry."},
    )
    assert response.status_code == 302
    with app.app_context():
        profile = db.session.get(AlumniProfile, member.profile_id)
        assert (profile.status, profile.refusal_reason) == ("refused", "not_in_network")
    (mail,) = outbox(to=member.email)
    assert "The school is not part of the network." in mail.body_text


@pytest.mark.parametrize(
    ("action", "data", "field_id"),
    [
        ("refuse", {}, "refuse-reason"),
        ("refuse", {"refuse-reason": "made_up"}, "refuse-reason"),
        ("refuse", {"refuse-reason": "other", "refuse-message": "x" * 2001}, "refuse-message"),
        ("request-info", {"info-message": "   "}, "info-message"),
    ],
)
def test_bad_input_rerenders_the_member_page_and_changes_nothing(
    app, client, login, moderator, create_member, outbox, action, data, field_id
):
    member = create_member()
    login(client, moderator)

    response = client.post(f"/moderation/members/{member.profile_id}/{action}", data=data)

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field_id}-error"' in html
    assert f'aria-describedby="{field_id}-error"' in html
    with app.app_context():
        assert db.session.get(AlumniProfile, member.profile_id).status == "pending"
        assert db.session.scalars(select(AuditLog)).all() == []
    assert outbox() == []


def test_a_decision_the_status_does_not_allow_is_flashed(
    app, client, login, moderator, create_member, outbox
):
    member = create_member(status="verified")
    login(client, moderator)

    response = client.post(
        f"/moderation/members/{member.profile_id}/refuse", data={"refuse-reason": "duplicate"}
    )

    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "not possible in the member&#39;s current status" in page
    with app.app_context():
        assert db.session.get(AlumniProfile, member.profile_id).status == "verified"
        assert db.session.scalars(select(OutboxMessage)).all() == []


def test_an_answered_request_comes_back_to_the_queue(app, client, login, moderator, create_member):
    member = create_member("asked@example.org")
    login(client, moderator)
    client.post(
        f"/moderation/members/{member.profile_id}/request-info",
        data={"info-message": "Send your diploma."},
    )
    assert "asked@example.org" not in client.get("/moderation/members").get_data(as_text=True)
    with app.test_request_context():
        from marketplace.accounts.services import answer_info_request

        answer_info_request(db.session.get(User, member.user_id), answer="Sent by post.")
        db.session.commit()
    html = client.get("/moderation/members").get_data(as_text=True)
    assert "asked@example.org" in html
    assert "Answered a request" in html


# ---------------------------------------------------------------- evidence


def test_evidence_is_downloaded_as_a_sandboxed_attachment(client, login, moderator, routes):
    login(client, moderator)
    response = client.get(routes["evidence"])
    body = response.get_data()
    response.close()
    assert response.status_code == 200
    assert body == b"%PDF-1.4 test"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox"
    assert response.headers["Content-Type"] == "application/pdf"


def test_evidence_is_refused_to_its_own_member(app, client, login, routes):
    with app.app_context():
        owner = db.session.get(AlumniProfile, routes["member_id"]).user
    login(client, owner)
    assert client.get(routes["evidence"]).status_code == 403


def test_missing_evidence_is_404(client, login, moderator, create_member):
    member = create_member()
    login(client, moderator)
    assert client.get(f"/moderation/members/{member.profile_id}/evidence").status_code == 404


# ---------------------------------------------------------------- roster


def _upload(client, content: bytes, name: str = "roster.csv"):
    return client.post(
        "/moderation/roster",
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def test_roster_form_shows_the_expected_format(client, login, moderator):
    login(client, moderator)
    html = client.get("/moderation/roster").get_data(as_text=True)
    assert 'type="file"' in html
    assert "name,email,school,year" in html


def test_roster_upload_shows_counts_and_line_errors(
    app, client, login, moderator, school, create_member
):
    member = create_member("camille@example.org", full_name="Camille Martin")
    login(client, moderator)
    content = (
        "name,email,school,year\n"
        f"Camille Martin,camille@example.org,{school.name},2015\n"
        "Nobody,broken,Nowhere,2015\n"
        f"Camille Martin,camille@example.org,{school.name},2015\n"
    ).encode()

    response = _upload(client, content)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<dd id="count-created">1</dd>' in html
    assert '<dd id="count-duplicates">1</dd>' in html
    assert '<dd id="count-errors">1</dd>' in html
    assert '<dd id="count-verified">1</dd>' in html
    assert "<td>3</td>" in html
    with app.app_context():
        assert db.session.get(AlumniProfile, member.profile_id).status == "verified"


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"email,name\nx@example.org,X\n", "roster.csv"),
        (b"name,email,school,year\n\xff\xfe\x00bad", "roster.csv"),
        (b"name,email,school,year\n", "roster.exe"),
    ],
)
def test_roster_upload_with_a_bad_file_rerenders_the_form(
    app, client, login, moderator, content, name
):
    login(client, moderator)
    response = _upload(client, content, name)
    assert response.status_code == 422
    assert 'id="file-error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(RosterEntry)).all() == []


def test_roster_upload_without_a_file(client, login, moderator):
    login(client, moderator)
    response = client.post("/moderation/roster", data={}, content_type="multipart/form-data")
    assert response.status_code == 422


def test_a_page_past_the_end_shows_the_last_page(client, login, moderator, create_member):
    create_member("only@example.org")
    login(client, moderator)
    response = client.get("/moderation/members?page=7")
    assert response.status_code == 200
    assert "only@example.org" in response.get_data(as_text=True)

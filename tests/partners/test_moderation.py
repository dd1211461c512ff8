"""Staff decisions on partner applications: the queue, approve / refuse, and the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from marketplace.audit import AuditLog
from marketplace.database import utcnow
from marketplace.extensions import db
from partners.models import Partner, PartnerStatus


def _partner(app, partner_id: int) -> Partner:
    with app.app_context():
        return db.session.get(Partner, partner_id)


def _audits(app, partner_id: int) -> list[tuple[str, int | None, dict]]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditLog)
            .where(AuditLog.object_type == "partner", AuditLog.object_id == partner_id)
            .order_by(AuditLog.id)
        )
        return [(row.action, row.actor_id, row.details) for row in rows]


# ---------------------------------------------------------------- pages


def test_the_queue_lists_pending_applications_oldest_first(
    app, client, login, moderator, create_partner
):
    newer = create_partner("Newer Co", status="pending")
    older = create_partner("Older Co", status="pending")
    approved = create_partner("Approved Co", status="approved")
    with app.app_context():
        db.session.get(Partner, older.partner_id).applied_at = utcnow() - timedelta(days=3)
        db.session.commit()
    login(client, moderator)

    response = client.get("/partners/applications")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.index(f'partner-row-{older.partner_id}"') < page.index(
        f'partner-row-{newer.partner_id}"'
    )
    assert f"partner-row-{approved.partner_id}" not in page


def test_an_empty_queue_says_so(client, login, moderator):
    login(client, moderator)
    assert b'id="queue-empty"' in client.get("/partners/applications").data


def test_the_queue_issues_the_same_queries_for_1_and_20_rows(
    app, client, login, moderator, create_partner, count_queries
):
    login(client, moderator)
    create_partner(status="pending")
    client.get("/partners/applications")  # warm-up
    with count_queries() as one:
        assert client.get("/partners/applications").status_code == 200
    for _ in range(19):
        create_partner(status="pending")
    with count_queries() as twenty:
        response = client.get("/partners/applications")
    assert response.get_data(as_text=True).count('id="partner-row-') == 20
    assert len(one) == len(twenty)


def test_the_detail_page_shows_the_application(client, login, moderator, create_partner):
    team = create_partner("Detail Co", status="pending")
    login(client, moderator)
    response = client.get(f"/partners/applications/{team.partner_id}")
    assert response.status_code == 200
    assert b"Detail Co" in response.data
    assert team.owner.email.encode() in response.data
    assert client.get("/partners/applications/987654").status_code == 404


def test_a_moderator_approves(app, client, login, moderator, create_partner, outbox):
    team = create_partner(status="pending", locale="en")
    login(client, moderator)

    response = client.post(f"/partners/applications/{team.partner_id}/approve")

    assert response.status_code == 302
    partner = _partner(app, team.partner_id)
    assert partner.status == PartnerStatus.APPROVED
    assert partner.decided_by_id == moderator.id
    assert _audits(app, team.partner_id) == [("partner.approved", moderator.id, {})]
    (mail,) = outbox(to=team.owner.email)
    assert mail.template == "partners/approved"
    assert mail.subject == f"{partner.name} is now a partner"


def test_a_moderator_refuses_with_a_reason(app, client, login, moderator, create_partner, outbox):
    team = create_partner(status="pending", locale="fr")
    login(client, moderator)

    response = client.post(
        f"/partners/applications/{team.partner_id}/refuse",
        data={"refuse-reason": "Not a company we can work with."},
    )

    assert response.status_code == 302
    partner = _partner(app, team.partner_id)
    assert partner.status == PartnerStatus.REFUSED
    assert partner.refusal_reason == "Not a company we can work with."
    assert _audits(app, team.partner_id) == [
        ("partner.refused", moderator.id, {"reason": "Not a company we can work with."})
    ]
    (mail,) = outbox(to=team.owner.email)
    assert mail.template == "partners/refused"
    assert "Not a company we can work with." in mail.body_text


def test_a_refusal_needs_a_reason(app, client, login, moderator, create_partner, outbox):
    team = create_partner(status="pending")
    login(client, moderator)
    response = client.post(
        f"/partners/applications/{team.partner_id}/refuse", data={"refuse-reason": "  "}
    )
    assert response.status_code == 422
    assert _partner(app, team.partner_id).status == PartnerStatus.PENDING
    assert _audits(app, team.partner_id) == []
    assert outbox() == []


def test_staff_pages_are_for_moderators(client, login, create_user, create_partner):
    team = create_partner(status="pending")
    login(client, team.owner)
    assert client.get("/partners/applications").status_code == 403
    assert client.post(f"/partners/applications/{team.partner_id}/approve").status_code == 403


# ---------------------------------------------------------------- API


def _api(partner_id, action: str) -> str:
    return f"/api/v1/moderation/partners/{partner_id}/{action}"


def test_api_approve(app, client, moderator, token_for, create_partner, outbox):
    team = create_partner(status="pending")
    response = client.post(_api(team.partner_id, "approve"), headers=token_for(moderator))
    assert response.status_code == 200
    assert response.get_json() == {
        "id": team.partner_id,
        "status": "approved",
        "refusal_reason": None,
    }
    assert [row[0] for row in _audits(app, team.partner_id)] == ["partner.approved"]
    assert [mail.template for mail in outbox(to=team.owner.email)] == ["partners/approved"]


def test_api_reject_needs_a_reason(app, client, moderator, token_for, create_partner, outbox):
    team = create_partner(status="pending")
    headers = token_for(moderator)
    assert client.post(_api(team.partner_id, "reject"), json={}, headers=headers).status_code == 422
    assert (
        client.post(
            _api(team.partner_id, "reject"), json={"reason": " "}, headers=headers
        ).status_code
        == 422
    )
    assert _partner(app, team.partner_id).status == PartnerStatus.PENDING

    response = client.post(
        _api(team.partner_id, "reject"),
        json={"reason": "Out of scope.", "status": "approved"},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.get_json() == {
        "id": team.partner_id,
        "status": "refused",
        "refusal_reason": "Out of scope.",
    }
    assert [row[0] for row in _audits(app, team.partner_id)] == ["partner.refused"]
    assert [mail.template for mail in outbox(to=team.owner.email)] == ["partners/refused"]


def test_api_request_changes_keeps_the_application_pending(
    app, client, moderator, token_for, create_partner, outbox
):
    team = create_partner(status="pending")
    headers = token_for(moderator)
    assert (
        client.post(_api(team.partner_id, "request-changes"), json={}, headers=headers).status_code
        == 422
    )
    response = client.post(
        _api(team.partner_id, "request-changes"),
        json={"message": "Send us your company registration number."},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.get_json()["status"] == "pending"
    assert _partner(app, team.partner_id).status == PartnerStatus.PENDING
    assert _audits(app, team.partner_id) == [
        (
            "partner.changes_requested",
            moderator.id,
            {"message": "Send us your company registration number."},
        )
    ]
    (mail,) = outbox(to=team.owner.email)
    assert mail.template == "partners/changes_requested"
    assert "registration number" in mail.body_text


def test_api_refuses_anonymous_and_non_moderators(
    app, client, create_user, token_for, create_partner
):
    team = create_partner(status="pending")
    assert client.post(_api(team.partner_id, "approve")).status_code == 401
    verified = create_user(alumni=True, status="verified")
    response = client.post(_api(team.partner_id, "approve"), headers=token_for(verified))
    assert response.status_code == 403
    response = client.post(_api(team.partner_id, "approve"), headers=token_for(team.owner))
    assert response.status_code == 403
    assert _partner(app, team.partner_id).status == PartnerStatus.PENDING


def test_api_unknown_partner_is_404(client, moderator, token_for):
    for action, body in (("approve", {}), ("reject", {"reason": "x"})):
        response = client.post(_api(987654, action), json=body, headers=token_for(moderator))
        assert response.status_code == 404


@pytest.mark.parametrize(
    ("status", "action", "body"),
    [
        ("approved", "approve", {}),
        ("approved", "reject", {"reason": "x"}),
        ("refused", "reject", {"reason": "x"}),
        ("refused", "request-changes", {"message": "x"}),
    ],
)
def test_api_decision_in_the_wrong_status_is_409(
    app, client, moderator, token_for, create_partner, outbox, status, action, body
):
    team = create_partner(status=status)
    response = client.post(_api(team.partner_id, action), json=body, headers=token_for(moderator))
    assert response.status_code == 409
    assert response.get_json()["errors"] == {"reason": "wrong_status"}
    assert _partner(app, team.partner_id).status == PartnerStatus(status)
    assert _audits(app, team.partner_id) == []
    assert outbox() == []

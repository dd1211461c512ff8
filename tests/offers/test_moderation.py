"""The offer review queue: what waits, the review page with its diff, decisions, access."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.audit import AuditLog
from marketplace.database import utcnow
from marketplace.extensions import db
from offers import services
from offers.models import Offer, OfferStatus

EN = {"Accept-Language": "en"}


@pytest.fixture
def moderator(create_user):
    return create_user(roles=("moderator",), locale="en", full_name="Maud Moderator")


@pytest.fixture
def staff(client, login, moderator):
    return login(client, moderator)


@pytest.fixture
def partner(create_partner):
    return create_partner(name="Cinéma Rio")


def propose(app, offer_id, user, data):
    with app.test_request_context():
        services.update_offer(
            db.session.get(Offer, offer_id), actor=db.session.get(User, user.id), data=data
        )
        db.session.commit()


def test_queue_lists_submitted_and_pending_changes_oldest_first(app, staff, partner, create_offer):
    now = utcnow()
    newer = create_offer(partner, status="submitted", title_en="Newer")
    older = create_offer(partner, status="submitted", title_en="Older")
    live = create_offer(partner, title_en="Live with changes")
    create_offer(partner, status="draft", title_en="Draft")
    create_offer(partner, title_en="Live untouched")
    approved_before = create_offer(partner, title_en="Changes approved already")
    asked = create_offer(partner, title_en="Changes sent back")
    propose(app, live.id, partner.owner, {"city": "Rio"})
    propose(app, approved_before.id, partner.owner, {"city": "Niteroi"})
    propose(app, asked.id, partner.owner, {"city": "Santos"})
    with app.test_request_context():
        moderator = db.session.scalar(select(User).where(User.full_name == "Maud Moderator"))
        services.approve_offer(db.session.get(Offer, approved_before.id), actor=moderator)
        services.request_offer_changes(
            db.session.get(Offer, asked.id), actor=moderator, message="Which cinema?"
        )
        db.session.get(Offer, older.id).submitted_at = now - timedelta(days=3)
        db.session.get(Offer, newer.id).submitted_at = now - timedelta(days=2)
        db.session.commit()
    page = staff.get("/offers/moderation/", headers=EN).get_data(as_text=True)
    ids = [chunk.split('"')[0] for chunk in page.split('<tr id="queued-')[1:]]
    assert ids == [str(older.id), str(newer.id), str(live.id)]
    assert "Changes to a live offer" in page


def test_empty_queue(staff):
    assert b'id="queue-empty"' in staff.get("/offers/moderation/").data


def test_queue_issues_a_fixed_number_of_queries(
    app, staff, create_partner, create_offer, count_queries
):
    first = create_partner()
    create_offer(first, status="submitted", category="travel", countries=["FR"])
    with count_queries() as one:
        assert staff.get("/offers/moderation/").status_code == 200
    for index in range(19):
        partner = create_partner() if index % 2 else first
        offer = create_offer(
            partner,
            status="submitted" if index % 3 else "published",
            category="books" if index % 2 else None,
            countries=["PT"],
        )
        if not index % 3:
            propose(app, offer.id, partner.owner, {"city": f"City {index}"})
    with count_queries() as twenty:
        page = staff.get("/offers/moderation/").get_data(as_text=True)
    assert page.count('<tr id="queued-') == 20
    assert len(twenty) == len(one)


def test_review_page_shows_a_field_by_field_diff(app, staff, partner, create_offer):
    offer = create_offer(partner, title_en="Old title", city="Rio", countries=["BR"])
    propose(app, offer.id, partner.owner, {"title_en": "New title", "countries": ["BR", "PT"]})
    page = staff.get(f"/offers/moderation/{offer.id}", headers=EN).get_data(as_text=True)
    diff = page.split('id="pending-diff"')[1].split("</article>")[0]
    assert 'id="diff-title_en"' in diff
    assert 'id="diff-countries"' in diff
    assert 'id="diff-city"' not in diff
    assert "Old title" in diff
    assert "New title" in diff
    assert "Portugal" in diff
    assert 'id="approve-offer"' in page


def test_approve_publishes_audits_and_mails_the_active_team(
    app, staff, moderator, partner, create_offer, add_partner_member, outbox
):
    manager = add_partner_member(partner)
    gone = add_partner_member(partner, disabled=True)
    offer = create_offer(partner, status="submitted")
    response = staff.post(f"/offers/moderation/{offer.id}/approve")
    assert response.status_code == 302
    with app.app_context():
        row = db.session.get(Offer, offer.id)
        assert row.status == OfferStatus.PUBLISHED
        assert row.published_at is not None
        entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "offer.approved"))
        assert entry.actor_id == moderator.id
        assert entry.object_id == offer.id
    assert len(outbox(to=partner.owner.email)) == 1
    assert len(outbox(to=manager.email)) == 1
    assert outbox(to=gone.email) == []
    assert outbox(to=manager.email)[0].subject == "Your offer is published"


def test_approving_pending_changes_applies_them(app, staff, partner, create_offer, outbox):
    offer = create_offer(partner, title_en="Old title")
    propose(app, offer.id, partner.owner, {"title_en": "New title"})
    staff.post(f"/offers/moderation/{offer.id}/approve")
    with app.app_context():
        row = db.session.get(Offer, offer.id)
        assert row.title_en == "New title"
        assert not row.pending_changes
        assert row.status == OfferStatus.PUBLISHED
        assert db.session.scalar(select(AuditLog.action).where(AuditLog.object_id == offer.id)) == (
            "offer.changes_approved"
        )
    assert outbox(to=partner.owner.email)[-1].subject == "The changes to your offer are published"


def test_reject_needs_a_reason(app, staff, partner, create_offer, outbox):
    offer = create_offer(partner, status="submitted")
    staff.post(f"/offers/moderation/{offer.id}/reject", data={"reason": "  "})
    with app.app_context():
        assert db.session.get(Offer, offer.id).status == OfferStatus.SUBMITTED
    assert outbox() == []
    staff.post(f"/offers/moderation/{offer.id}/reject", data={"reason": "Not a discount."})
    with app.app_context():
        row = db.session.get(Offer, offer.id)
        assert row.status == OfferStatus.REJECTED
        assert row.refusal_reason == "Not a discount."
        assert db.session.scalar(select(AuditLog.action)) == "offer.rejected"
    mail = outbox(to=partner.owner.email)[-1]
    assert "Not a discount." in mail.body_text
    assert "Not a discount." in mail.body_html


def test_request_changes_sends_the_message(app, staff, partner, create_offer, outbox):
    offer = create_offer(partner, status="submitted")
    staff.post(f"/offers/moderation/{offer.id}/request-changes", data={"message": ""})
    with app.app_context():
        assert db.session.get(Offer, offer.id).status == OfferStatus.SUBMITTED
    staff.post(
        f"/offers/moderation/{offer.id}/request-changes", data={"message": "Add the end date."}
    )
    with app.app_context():
        row = db.session.get(Offer, offer.id)
        assert row.status == OfferStatus.CHANGES_REQUESTED
        assert row.moderator_message == "Add the end date."
        assert db.session.scalar(select(AuditLog.action)) == "offer.changes_requested"
    assert "Add the end date." in outbox(to=partner.owner.email)[-1].body_text


def test_a_decision_on_an_offer_not_in_review_changes_nothing(app, staff, partner, create_offer):
    offer = create_offer(partner, status="draft")
    response = staff.post(f"/offers/moderation/{offer.id}/approve", headers=EN)
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Offer, offer.id).status == OfferStatus.DRAFT
    page = staff.get(f"/offers/moderation/{offer.id}").get_data(as_text=True)
    assert 'id="not-in-review"' in page


@pytest.mark.parametrize("path", ["/offers/moderation/", "/offers/moderation/{id}"])
def test_only_moderators_see_the_queue(client, login, create_user, partner, create_offer, path):
    offer = create_offer(partner, status="submitted")
    url = path.format(id=offer.id)
    assert client.get(url).status_code == 302  # anonymous: to the sign-in page
    login(client, partner.owner)
    assert client.get(url).status_code == 403
    login(client, create_user(alumni=True, status="verified"))
    assert client.get(url).status_code == 403


def test_a_partner_cannot_approve_its_own_offer(app, client, login, partner, create_offer):
    offer = create_offer(partner, status="submitted")
    login(client, partner.owner)
    assert client.post(f"/offers/moderation/{offer.id}/approve").status_code == 403
    with app.app_context():
        assert db.session.get(Offer, offer.id).status == OfferStatus.SUBMITTED


def test_unknown_offer_is_404(staff):
    assert staff.get("/offers/moderation/999999").status_code == 404
    assert staff.post("/offers/moderation/999999/approve").status_code == 404
